"""Configured and stored registrations merged: precedence, statuses, constant-time lookups."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from ltiauthenticator.lti13._registration import PlatformRegistration
from ltiauthenticator.lti13._registration_sources import merge
from ltiauthenticator.lti13._registration_store import StoredRegistration
from ltiauthenticator.lti13.error import IncorrectValueError, RegistrationInactiveError

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)
CONFIGURED = PlatformRegistration(
    issuer="https://canvas.instructure.com",
    client_ids=frozenset({"c1"}),
    authorize_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
    jwks_endpoint="https://sso.canvaslms.com/api/lti/security/jwks",
)


def stored(row_id: int, issuer: str, client_id: str, status: str = "active", **changes: Any):
    fields = dict(
        id=row_id,
        name=f"lms{row_id}",
        issuer=issuer,
        client_id=client_id,
        deployment_ids=("1",),
        authorize_url=f"{issuer}/auth",
        jwks_endpoint=f"{issuer}/jwks",
        token_url="",
        token_audience="",
        username_prefix=f"lms{row_id}-",
        frame_origins=(issuer,),
        status=status,
        product_family="moodle",
        product_version="4.5",
        openid_configuration_url=f"{issuer}/openid-configuration",
        configuration_origin=issuer,
        platform_configuration={},
        created_at=NOW,
        updated_at=NOW,
    )
    fields.update(changes)
    return StoredRegistration(**fields)


def test_configured_first_then_active_stored():
    moodle = stored(1, "https://moodle.example.edu", "m1")
    registry = merge([CONFIGURED], [moodle])
    assert registry.registrations[0] is CONFIGURED
    found = registry.find("https://moodle.example.edu", "m1")
    assert (found.stored_id, found.name, found.username_prefix) == (1, "lms1", "lms1-")
    assert registry.configured == [CONFIGURED]
    assert registry.by_id("lms1") is found


def test_a_stored_registration_never_replaces_a_configured_one(caplog):
    same_client = stored(1, CONFIGURED.issuer, "c1", username_prefix="")
    same_name = stored(2, "https://other.example.edu", "o1", name=CONFIGURED.slug)
    with caplog.at_level(logging.WARNING):
        registry = merge([CONFIGURED], [same_client, same_name], logging.getLogger("t"))
    assert registry.registrations == [CONFIGURED]
    assert registry.namespace_owner("") is CONFIGURED
    assert registry.owns_admin_names(CONFIGURED)
    assert caplog.text.count("is ignored") == 2


def test_a_shared_issuer_keeps_both_registrations_apart():
    """Canvas cloud: one issuer, a client id per institution."""
    other_school = stored(1, CONFIGURED.issuer, "c2")
    registry = merge([CONFIGURED], [other_school])
    assert registry.find(CONFIGURED.issuer, "c1") is CONFIGURED
    assert registry.find(CONFIGURED.issuer, "c2").stored_id == 1


@pytest.mark.parametrize(
    "status, message",
    [("pending", "not approved the registration yet"), ("disabled", "has disabled")],
)
def test_inactive_registrations_are_refused_saying_why(status, message):
    registry = merge([CONFIGURED], [stored(1, "https://moodle.example.edu", "m1", status)])
    for client_id in ("m1", None):
        with pytest.raises(RegistrationInactiveError, match=message) as refused:
            registry.find("https://moodle.example.edu", client_id)
        assert refused.value.status_code == 403
    with pytest.raises(IncorrectValueError, match="not registered with the platform"):
        registry.find("https://moodle.example.edu", "someone-else")
    assert registry.for_claims({"iss": "https://moodle.example.edu", "aud": "m1"}) is None


def test_a_pending_client_id_beside_an_active_one():
    active = stored(1, "https://moodle.example.edu", "m1")
    pending = stored(2, "https://moodle.example.edu", "m2", "pending")
    registry = merge([], [active, pending])
    assert registry.find("https://moodle.example.edu", "m1").stored_id == 1
    with pytest.raises(RegistrationInactiveError):
        registry.find("https://moodle.example.edu", "m2")


def test_ten_thousand_registrations_are_indexed():
    rows = [stored(i, f"https://lms{i}.example.edu", f"c{i}") for i in range(1, 10_001)]
    registry = merge([CONFIGURED], rows)
    assert len(registry.registrations) == 10_001
    assert registry.find("https://lms9999.example.edu", "c9999").stored_id == 9999
    assert registry.for_claims({"iss": "https://lms5.example.edu", "aud": ["x", "c5"]}).name == (
        "lms5"
    )
    assert registry.namespace_owner("lms77-").stored_id == 77
