"""Configuration checked when it loads: what is unambiguous is accepted, the rest refused
with a message naming the trait (issue 9, items 4, 13 and 16)."""

import logging

import pytest
from traitlets import TraitError
from traitlets.config import Config

from ltiauthenticator.lti13.auth import LTI13Authenticator

CANVAS = {
    "issuer": "https://canvas.instructure.com",
    "authorize_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "jwks_endpoint": "https://sso.canvaslms.com/api/lti/security/jwks",
}
MOODLE = {
    "issuer": "https://moodle.example.edu",
    "client_id": "m1",
    "authorize_url": "https://moodle.example.edu/mod/lti/auth.php",
    "jwks_endpoint": "https://moodle.example.edu/mod/lti/certs.php",
}


def make(**traits):
    config = Config()
    for name, value in traits.items():
        config.LTI13Authenticator[name] = value
    return LTI13Authenticator(config=config)


def test_numeric_client_ids_become_strings():
    """Helm YAML turns an unquoted Canvas client id into a number."""
    auth = make(platforms=[{**CANVAS, "client_id": 125900000000000329}])
    assert auth.registry.registrations[0].client_ids == {"125900000000000329"}
    auth = make(client_id=[125900000000000329, "abc"], **CANVAS)
    assert auth.client_id == {"125900000000000329", "abc"}


def test_a_single_deployment_id_string_is_one_id_not_its_characters():
    auth = make(platforms=[{**CANVAS, "client_id": "c", "deployment_ids": "1:abc"}])
    assert auth.registry.registrations[0].deployment_ids == {"1:abc"}


@pytest.mark.parametrize(
    ("traits", "message"),
    [
        (
            {"platforms": [{**CANVAS, "client_id": ""}]},
            r"platforms\[0\]\.client_id must not be empty",
        ),
        ({"client_id": ["ok", " "]}, "LTI13Authenticator.client_id must not contain an empty id"),
        (
            {"platforms": [{**CANVAS, "client_id": "a", "colour": "red"}]},
            r"platforms\[0\] has unknown key\(s\) \['colour'\]",
        ),
        (
            {"platforms": [{**CANVAS, "client_id": "a", "name": "x"}, {**MOODLE, "name": "x"}]},
            r"platforms\[1\]\.name 'x' is also the name of platforms\[0\]",
        ),
        (
            {"platforms": [{**CANVAS, "client_id": "a"}, {**MOODLE, "name": CANVAS["issuer"]}]},
            r"platforms\[1\]\.name .* is another registration's issuer",
        ),
        ({"platforms": [{**CANVAS, "client_id": {"a": 1}}]}, r"client_id must be a string"),
        ({"jwks_algorithms": ["HS256"]}, "LTI13Authenticator.jwks_algorithms may list only"),
        ({"jwks_algorithms": []}, "LTI13Authenticator.jwks_algorithms may list only"),
        ({"max_group_name_length": 5}, "LTI13Authenticator.max_group_name_length must be at least"),
    ],
)
def test_malformed_config_stops_the_hub_when_it_loads(traits, message, caplog):
    with caplog.at_level(logging.CRITICAL), pytest.raises(TraitError, match=message):
        make(**traits)
    # one clear line in the hub's log, before JupyterHub's traceback
    assert any(
        r.levelno == logging.CRITICAL and "configuration error" in r.getMessage()
        for r in caplog.records
    )


def test_several_platforms_need_their_own_username_namespaces():
    auth = make(client_id="c", platforms=[MOODLE], **CANVAS)
    problems = auth.configuration_problems()
    assert any(
        p.startswith("LTI13Authenticator.platforms[0].username_prefix is ''")
        and "shared_username_namespace" in p
        for p in problems
    )
    auth = make(client_id="c", platforms=[{**MOODLE, "username_prefix": "moodle-"}], **CANVAS)
    assert auth.configuration_problems() == []
    auth = make(client_id="c", platforms=[MOODLE], shared_username_namespace=True, **CANVAS)
    assert auth.configuration_problems() == []


def test_admin_names_belong_to_the_first_registration_of_a_namespace():
    auth = make(client_id="c", platforms=[MOODLE], shared_username_namespace=True, **CANVAS)
    canvas, moodle = auth.registry.registrations
    assert auth.registry.owns_admin_names(canvas)
    assert not auth.registry.owns_admin_names(moodle)


def test_platform_short_names_must_differ():
    twin = {**MOODLE, "issuer": "https://moodle.example.edu/other", "client_id": "m2"}
    auth = make(platforms=[{**MOODLE, "username_prefix": "a-"}, {**twin, "username_prefix": "b-"}])
    assert any("give it a distinct name" in p for p in auth.configuration_problems())


def test_allow_iframe_needs_explicit_frame_origins():
    auth = make(client_id="c", allow_iframe=True, **CANVAS)
    assert any("frame_origins is not set" in p for p in auth.configuration_problems())
    auth = make(
        client_id="c", allow_iframe=True, frame_origins=["https://school.instructure.com"], **CANVAS
    )
    assert auth.configuration_problems() == []
    auth = make(client_id="c", allow_iframe=True, frame_origins=["school.edu/path"], **CANVAS)
    assert any("must be an origin" in p for p in auth.configuration_problems())


@pytest.mark.parametrize(
    "trait, value",
    [("registration_refresh_interval", 0), ("dynamic_registration_max_pending", -1)],
)
def test_dynamic_registration_bounds_must_be_positive(trait, value):
    with pytest.raises(TraitError, match=f"LTI13Authenticator.{trait} must be more than 0"):
        LTI13Authenticator(**{trait: value})
