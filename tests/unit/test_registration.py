"""Platform registrations: choosing one at login initiation, and for verified claims."""

import pytest

from ltiauthenticator.lti13._registration import PlatformRegistration, PlatformRegistry
from ltiauthenticator.lti13.error import IncorrectValueError

CANVAS = PlatformRegistration(
    issuer="https://canvas.instructure.com",
    client_ids=frozenset({"c1"}),
    authorize_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
    jwks_endpoint="https://sso.canvaslms.com/api/lti/security/jwks",
)
CANVAS_PARTNER = PlatformRegistration(
    issuer="https://canvas.instructure.com",
    client_ids=frozenset({"p1", "p2"}),
    authorize_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
    jwks_endpoint="https://sso.canvaslms.com/api/lti/security/jwks",
    name="partner",
)
MOODLE = PlatformRegistration(
    issuer="https://moodle.example.edu",
    client_ids=frozenset({"m1"}),
    authorize_url="https://moodle.example.edu/mod/lti/auth.php",
    jwks_endpoint="https://moodle.example.edu/mod/lti/certs.php",
    username_key="custom_uname",
)


@pytest.fixture
def registry() -> PlatformRegistry:
    return PlatformRegistry([CANVAS, CANVAS_PARTNER, MOODLE])


def test_registration_ids_are_the_name_else_the_issuer():
    assert CANVAS.id == "https://canvas.instructure.com"
    assert CANVAS_PARTNER.id == "partner"


def test_find_by_issuer_and_client_id(registry):
    assert registry.find("https://canvas.instructure.com", "c1") is CANVAS
    assert registry.find("https://canvas.instructure.com", "p2") is CANVAS_PARTNER
    assert registry.find("https://moodle.example.edu", None) is MOODLE
    assert registry.find("https://moodle.example.edu", "m1") is MOODLE


@pytest.mark.parametrize(
    ("issuer", "client_id", "reason"),
    [
        ("https://unknown.example", "c1", "unknown_issuer"),
        ("https://canvas.instructure.com/", "c1", "unknown_issuer"),  # exact match only
        ("https://canvas.instructure.com", "m1", "unknown_client_id"),  # Moodle's, not Canvas's
        ("https://canvas.instructure.com", None, "ambiguous_client_id"),  # two registrations
    ],
)
def test_find_refuses_what_it_cannot_place(registry, issuer, client_id, reason):
    with pytest.raises(IncorrectValueError) as refused:
        registry.find(issuer, client_id)
    assert refused.value.reason == reason
    assert refused.value.hint  # tells the admin what to configure


def test_one_registration_with_several_client_ids_needs_the_client_id():
    registry = PlatformRegistry([CANVAS_PARTNER])
    with pytest.raises(IncorrectValueError, match="several client ids"):
        registry.find("https://canvas.instructure.com", None)


def test_client_id_for_login_is_never_empty():
    assert PlatformRegistry.client_id_for_login(MOODLE, None) == "m1"
    assert PlatformRegistry.client_id_for_login(CANVAS_PARTNER, "p2") == "p2"


def test_by_id(registry):
    assert registry.by_id("partner") is CANVAS_PARTNER
    assert registry.by_id("https://moodle.example.edu") is MOODLE
    assert registry.by_id("nobody") is None
    assert registry.by_id(None) is None


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"iss": "https://canvas.instructure.com", "aud": "c1"}, CANVAS),
        ({"iss": "https://canvas.instructure.com", "aud": ["x", "p1"]}, CANVAS_PARTNER),
        ({"iss": "https://moodle.example.edu", "aud": "c1"}, None),  # Canvas's client id
        ({"iss": "https://canvas.instructure.com"}, None),
        ({"aud": "c1"}, None),
    ],
)
def test_for_claims_needs_issuer_and_audience_to_match(registry, claims, expected):
    assert registry.for_claims(claims) is expected
