"""Username mapping: a pure function of the claims and ``username_key``."""

import pytest

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._username import username_from_claims
from ltiauthenticator.lti13.error import LoginError

CLAIMS = {
    "sub": "opaque-42",
    "email": "ada@example.edu",
    "given_name": "Ada",
    c.CUSTOM_CLAIM: {"uname": "alovelace", "custom_id": "x7", "empty": ""},
    c.LIS_CLAIM: {"person_sourcedid": "SIS-0042"},
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("email", "ada@example.edu"),
        ("given_name", "Ada"),
        ("sub", "opaque-42"),
        ("custom_uname", "alovelace"),
        ("custom_custom_id", "x7"),  # only the first custom_ is stripped
        ("custom_empty", "opaque-42"),
        ("custom_missing", "opaque-42"),
        ("family_name", "opaque-42"),
        ("lis.person_sourcedid", "SIS-0042"),
        ("custom.uname", "alovelace"),
        ("lis.missing", "opaque-42"),
    ],
)
def test_username_key_forms(key, expected):
    assert username_from_claims(CLAIMS, key) == expected


def test_callable_username_key():
    assert username_from_claims(CLAIMS, lambda claims: claims["given_name"] + "-x") == "Ada-x"
    assert username_from_claims(CLAIMS, lambda claims: None) == "opaque-42"


def test_custom_key_when_custom_claim_is_not_an_object():
    assert username_from_claims({"sub": "s", c.CUSTOM_CLAIM: "x"}, "custom_uname") == "s"


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": "  ", "email": ""}, {"email": ["a"]}])
def test_no_username_at_all_is_a_login_error(claims):
    with pytest.raises(LoginError, match="Unable to set the username with username_key email"):
        username_from_claims(claims, "email")


def test_whitespace_is_trimmed_and_numbers_accepted():
    assert username_from_claims({"email": "  a@b.c "}, "email") == "a@b.c"
    assert username_from_claims({c.CUSTOM_CLAIM: {"id": 12345}}, "custom_id") == "12345"
