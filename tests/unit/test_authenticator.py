"""The authenticator's API: usernames per registration, user models, groups, roles, admin.

The flow tier checks a launch of each kind through a real hub; the variants live here.
"""

import asyncio

import jupyterhub
import pytest
from traitlets.config import Config

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13.auth import LTI13Authenticator

ISSUER = "https://canvas.instructure.com"
needs_jupyterhub5 = pytest.mark.skipif(
    int(jupyterhub.__version__.split(".")[0]) < 5,
    reason="Authenticator.manage_roles arrived in JupyterHub 5",
)
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


def make(**traits) -> LTI13Authenticator:
    config = Config()
    config.LTI13Authenticator.issuer = ISSUER
    config.LTI13Authenticator.client_id = ["c1"]
    config.LTI13Authenticator.authorize_url = ISSUER + "/auth"
    config.LTI13Authenticator.jwks_endpoint = ISSUER + "/jwks"
    for name, value in traits.items():
        section, _, trait = name.rpartition("__")
        config[section or "LTI13Authenticator"][trait] = value
    return LTI13Authenticator(config=config)


def launch(**claims):
    base = {
        "iss": ISSUER,
        "aud": "c1",
        "sub": "s-42",
        "email": "Ada@Example.EDU",
        "given_name": "Ada",
        c.CUSTOM_CLAIM: {"uname": "alovelace"},
        c.ROLES_CLAIM: [LIS + "membership#Instructor"],
        c.CONTEXT_CLAIM: {"id": "c-1", "label": "DATA 101", "title": "Data"},
    }
    base.update(claims)
    return {k: v for k, v in base.items() if v is not None}


def login(auth, claims):
    """JupyterHub's own login pipeline, as a launch's callback runs it."""
    return asyncio.run(auth.get_authenticated_user(None, claims))


@pytest.mark.parametrize(
    ("username_key", "claims", "expected"),
    [
        ("email", {}, "ada@example.edu"),  # normalised by JupyterHub: lowercase
        ("email", {"email": None}, "s-42"),  # privacy launch: falls back to sub
        ("email", {"email": ""}, "s-42"),
        ("given_name", {}, "ada"),
        ("custom_uname", {}, "alovelace"),
        ("custom_uname", {c.CUSTOM_CLAIM: {}}, "s-42"),
    ],
)
def test_username_variants(username_key, claims, expected):
    auth = make(username_key=username_key)
    assert login(auth, launch(**claims))["name"] == expected


def test_a_registration_may_read_another_username_claim():
    auth = make(
        platforms=[
            {
                "issuer": "https://moodle.example.edu",
                "client_id": "m1",
                "authorize_url": "https://moodle.example.edu/auth",
                "jwks_endpoint": "https://moodle.example.edu/jwks",
                "username_key": "custom_uname",
            }
        ]
    )
    assert auth.get_username(launch()) == "Ada@Example.EDU"
    moodle = launch(iss="https://moodle.example.edu", aud="m1")
    assert auth.get_username(moodle) == "alovelace"
    # a token no registration claims falls back to the hub-wide username_key
    assert auth.get_username(launch(iss="https://elsewhere.example", aud="m1")) == (
        "Ada@Example.EDU"
    )


def test_the_user_model_keeps_the_claims_in_auth_state():
    claims = launch()
    model = asyncio.run(make().authenticate(None, claims))
    assert model == {"name": "Ada@Example.EDU", "auth_state": claims}
    assert model["auth_state"] is not claims  # a copy, safe to change


def test_groups_only_with_manage_groups_and_default_rules():
    assert "groups" not in asyncio.run(make().authenticate(None, launch()))
    model = asyncio.run(make(Authenticator__manage_groups=True).authenticate(None, launch()))
    # keyed on the platform (its issuer's host) and the course's context_id, not its label
    assert model["groups"] == ["canvas.instructure.com-c-1-instructors"]
    learner = launch(**{c.ROLES_CLAIM: ["Learner"]})
    model = asyncio.run(make(Authenticator__manage_groups=True).authenticate(None, learner))
    assert model["groups"] == ["canvas.instructure.com-c-1-learners"]


def test_custom_role_groups():
    auth = make(Authenticator__manage_groups=True, role_groups={"Instructor": "staff"})
    assert asyncio.run(auth.authenticate(None, launch()))["groups"] == ["staff"]


@needs_jupyterhub5
def test_roles_from_role_scopes():
    auth = make(
        Authenticator__manage_roles=True,
        role_scopes={
            "Instructor": ["access:servers!group={course}-learners"],
            "Learner": ["read:users!group={course}-learners"],
            "TeachingAssistant": ["access:servers!group={context_id}-x", "{no_such_field}"],
        },
    )
    roles = asyncio.run(auth.authenticate(None, launch()))["roles"]
    assert roles == [
        {"name": "user"},
        {
            "name": "lti-instructor-canvas.instructure.com-c-1",
            "scopes": ["access:servers!group=canvas.instructure.com-c-1-learners"],
            "description": "LTI role Instructor (from launches)",
        },
    ]


@pytest.mark.parametrize(
    ("roles", "admin_users", "admin"),
    [
        ([LIS + "membership#Instructor"], set(), False),
        (["http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"], set(), True),
        ([LIS + "membership#Instructor"], {"ada@example.edu"}, True),  # normalised names
    ],
)
def test_admin_roles(roles, admin_users, admin):
    auth = make(admin_roles={"system:Administrator"}, Authenticator__admin_users=admin_users)
    model = asyncio.run(auth.authenticate(None, launch(**{c.ROLES_CLAIM: roles})))
    assert model["admin"] is admin


def test_without_admin_roles_the_model_leaves_admin_to_jupyterhub():
    assert "admin" not in asyncio.run(make().authenticate(None, launch()))


@needs_jupyterhub5
def test_admin_users_keep_the_admin_role_when_roles_are_managed():
    auth = make(
        Authenticator__manage_roles=True,
        Authenticator__admin_users={"ada@example.edu"},
        role_scopes={},
    )
    roles = asyncio.run(auth.authenticate(None, launch()))["roles"]
    assert roles == [{"name": "user"}, {"name": "admin"}]


def test_uri_scheme_overrides_the_detected_one():
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=HTTPHeaders(Host="hub", **{"X-Forwarded-Proto": "http"}),
    )
    assert make().get_uri_scheme(request) == "http"
    assert make(uri_scheme="https").get_uri_scheme(request) == "https"


@needs_jupyterhub5
def test_lms_admins_keep_the_admin_role_when_roles_are_managed():
    """An LMS administrator made admin by ``admin_roles`` keeps JupyterHub's admin role:
    the admin flag is decided before the roles (else ``sync_roles`` would take it away)."""
    auth = make(
        Authenticator__manage_roles=True,
        admin_roles={"system:Administrator"},
        role_scopes={},
    )
    admin = launch(**{c.ROLES_CLAIM: [LIS + "system/person#Administrator"]})
    model = asyncio.run(auth.authenticate(None, admin))
    assert model["admin"] is True
    assert model["roles"] == [{"name": "user"}, {"name": "admin"}]
