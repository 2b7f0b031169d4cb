"""Service tokens, the AGS client's URL handling, launch capture: against a real token
endpoint on a loopback port (tornado, in the test's event loop), with an injected clock."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List
from urllib.parse import parse_qs

import jwt
import pytest
from tornado import web

from ltiauthenticator.lti13 import _grades
from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._registration import PlatformRegistration, normalize_platform_entry
from ltiauthenticator.lti13._service_token import (
    ASSERTION_LIFETIME,
    CLIENT_ASSERTION_TYPE,
    ServiceAccessError,
    ServiceTokens,
)
from ltiauthenticator.lti13._tool_config import tool_configuration
from ltiauthenticator.lti13._tool_keys import ToolSigner, generate_private_key_pem, public_jwk
from tests.support.hub import free_port

PEM = generate_private_key_pem()
SCORE = _grades.SCOPE_SCORE


class Clock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TokenEndpoint(web.RequestHandler):
    """A token endpoint that checks the assertion and counts what it was asked."""

    def initialize(self, state: Dict[str, Any]) -> None:
        self.state = state

    async def post(self) -> None:
        state = self.state
        form = {k: v[0] for k, v in parse_qs(self.request.body.decode()).items()}
        state["requests"].append(form)
        if state.get("arrived") is not None:
            state["arrived"].set()
        if state.get("hold") is not None:
            await state["hold"].wait()
        if state.get("status"):
            self.set_status(state["status"])
            self.finish(state.get("body", {"error": "invalid_client", "error_description": "no"}))
            return
        key = jwt.PyJWK(public_jwk(PEM)).key
        claims = jwt.decode(
            form["client_assertion"],
            key,
            algorithms=["RS256"],
            audience=state["audience"],
            options={"verify_exp": False, "verify_iat": False},
        )
        state["assertions"].append((jwt.get_unverified_header(form["client_assertion"]), claims))
        self.finish({"access_token": f"token-{len(state['requests'])}", "expires_in": 3600})


@pytest.fixture
async def endpoint():
    port = free_port()
    state: Dict[str, Any] = {"requests": [], "assertions": []}
    server = web.Application([(r"/token", TokenEndpoint, {"state": state})]).listen(
        port, address="127.0.0.1"
    )
    state["url"] = f"http://127.0.0.1:{port}/token"
    state["audience"] = state["url"]
    yield state
    server.stop()


def registration(url: str, audience: str = "") -> PlatformRegistration:
    return PlatformRegistration(
        issuer="https://lms.example.edu",
        client_ids=frozenset({"tool-1"}),
        authorize_url="https://lms.example.edu/auth",
        jwks_endpoint="https://lms.example.edu/jwks",
        token_url=url,
        token_audience=audience,
    )


async def test_client_assertion_carries_what_the_security_framework_requires(endpoint):
    clock = Clock()
    tokens = ServiceTokens(lambda: ToolSigner(PEM), clock=clock)

    token = await tokens.token(registration(endpoint["url"]), "tool-1", [SCORE])

    assert token == "token-1"
    form = endpoint["requests"][0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert form["scope"] == SCORE
    header, claims = endpoint["assertions"][0]
    assert header["kid"] == public_jwk(PEM)["kid"] and header["alg"] == "RS256"
    assert claims["iss"] == claims["sub"] == "tool-1"
    assert claims["aud"] == endpoint["url"]
    assert claims["iat"] == clock.now and claims["exp"] == clock.now + ASSERTION_LIFETIME
    assert len(claims["jti"]) >= 20


async def test_configured_audience_is_used_instead_of_the_token_url(endpoint):
    endpoint["audience"] = "https://auth.brightspace.com/core/connect/token"
    tokens = ServiceTokens(lambda: ToolSigner(PEM))
    await tokens.token(registration(endpoint["url"], endpoint["audience"]), "tool-1", [SCORE])
    assert endpoint["assertions"][0][1]["aud"] == endpoint["audience"]


async def test_token_is_reused_then_refreshed_shortly_before_expiry(endpoint):
    clock = Clock()
    tokens = ServiceTokens(lambda: ToolSigner(PEM), clock=clock)
    reg = registration(endpoint["url"])

    first = await tokens.token(reg, "tool-1", [SCORE, _grades.SCOPE_LINEITEM])
    clock.now += 3000
    again = await tokens.token(reg, "tool-1", [_grades.SCOPE_LINEITEM, SCORE])  # order-free
    clock.now += 541  # 59 s before expiry: renewed, a request must not carry a dying token
    renewed = await tokens.token(reg, "tool-1", [SCORE, _grades.SCOPE_LINEITEM])

    assert (first, again, renewed) == ("token-1", "token-1", "token-2")
    # each fetch had its own assertion jti
    assert len({claims["jti"] for _, claims in endpoint["assertions"]}) == 2


async def test_tokens_are_kept_apart_per_client_id_and_scopes(endpoint):
    tokens = ServiceTokens(lambda: ToolSigner(PEM))
    reg = PlatformRegistration(
        **{**registration(endpoint["url"]).__dict__, "client_ids": frozenset({"tool-1", "tool-2"})}
    )
    values = [
        await tokens.token(reg, "tool-1", [SCORE]),
        await tokens.token(reg, "tool-2", [SCORE]),
        await tokens.token(reg, "tool-1", [_grades.SCOPE_MEMBERSHIPS]),
        await tokens.token(reg, "tool-1", [SCORE]),
    ]
    assert values == ["token-1", "token-2", "token-3", "token-1"]


async def test_concurrent_callers_share_one_fetch(endpoint):
    endpoint["hold"] = asyncio.Event()
    tokens = ServiceTokens(lambda: ToolSigner(PEM))
    reg = registration(endpoint["url"])
    callers = [asyncio.ensure_future(tokens.token(reg, "tool-1", [SCORE])) for _ in range(8)]

    endpoint["arrived"] = asyncio.Event()

    await asyncio.wait_for(endpoint["arrived"].wait(), 10)
    endpoint["hold"].set()
    values = await asyncio.wait_for(asyncio.gather(*callers), 10)

    assert values == ["token-1"] * 8
    assert len(endpoint["requests"]) == 1 and tokens.fetches == 1


@pytest.mark.parametrize(
    "status, body, words",
    [
        (
            401,
            {"error": "invalid_client", "error_description": "unknown kid"},
            ["HTTP 401", "invalid_client: unknown kid", "/hub/lti13/jwks"],
        ),
        (400, {"error": "invalid_scope"}, ["HTTP 400", "invalid_scope"]),
        (403, {"error": "unauthorized_client"}, ["HTTP 403", "does not grant"]),
        (503, {"oops": 1}, ["HTTP 503", "try again later"]),
    ],
)
async def test_token_refusals_name_the_platform_answer(endpoint, status, body, words):
    endpoint["status"], endpoint["body"] = status, body
    tokens = ServiceTokens(lambda: ToolSigner(PEM))
    with pytest.raises(ServiceAccessError) as caught:
        await tokens.token(registration(endpoint["url"]), "tool-1", [SCORE])
    for word in words:
        assert word in caught.value.message
    assert caught.value.platform_status == status
    # a failed fetch is not cached: the next call asks again
    endpoint["status"] = None
    assert await tokens.token(registration(endpoint["url"]), "tool-1", [SCORE]) == "token-2"


async def test_unreachable_token_endpoint_and_missing_token_url():
    tokens = ServiceTokens(lambda: ToolSigner(PEM))
    with pytest.raises(ServiceAccessError) as caught:
        await tokens.token(registration(f"http://127.0.0.1:{free_port()}/token"), "t", [SCORE])
    assert caught.value.status == 504 and "could not be reached" in caught.value.message
    with pytest.raises(ServiceAccessError) as caught:
        await tokens.token(registration(""), "tool-1", [SCORE])
    assert caught.value.status == 409 and "token_url is not set" in caught.value.message


@pytest.mark.parametrize(
    "lineitem, scores",
    [
        ("https://lms/ags/1/lineitems/7", "https://lms/ags/1/lineitems/7/scores"),
        ("https://lms/ags/1/lineitems/7/", "https://lms/ags/1/lineitems/7/scores"),
        (
            "https://moodle/mod/lti/services.php/2/lineitems/5/lineitem?type_id=3",
            "https://moodle/mod/lti/services.php/2/lineitems/5/lineitem/scores?type_id=3",
        ),
    ],
)
def test_scores_go_before_the_query_string(lineitem, scores):
    assert _grades.scores_url(lineitem) == scores
    assert (
        _grades.results_url(lineitem)
        == scores[: scores.index("/scores")] + "/results" + (scores[scores.index("/scores") + 7 :])
    )


@pytest.mark.parametrize(
    "header, found",
    [
        ('<https://a/p?page=2>; rel="next"', "https://a/p?page=2"),
        ("<https://a/p2>; rel=next", "https://a/p2"),
        ('<https://a/f>; rel="first", <https://a/n>; rel="next"', "https://a/n"),
        ('<https://a/d>; rel="differences"', ""),
        ("", ""),
    ],
)
def test_next_page_link(header, found):
    assert _grades.next_link(header) == found


def test_line_item_matching_prefers_the_most_specific_field():
    items: List[Dict[str, Any]] = [
        {"id": "1", "label": "HW", "tag": "t"},
        {"id": "2", "label": "HW", "resourceId": "hw"},
    ]
    assert _grades.match_line_item(items, {"resourceId": "hw", "label": "HW"})["id"] == "2"
    assert _grades.match_line_item(items, {"resourceId": "other", "label": "HW"}) is None
    assert _grades.match_line_item(items, {"tag": "t"})["id"] == "1"
    assert _grades.match_line_item(items, {"label": "HW"})["id"] == "1"


def launch_claims(link: str, context: str = "c1") -> Dict[str, Any]:
    return {
        "iss": "https://lms.example.edu",
        "aud": "tool-1",
        "sub": "s-1",
        c.DEPLOYMENT_ID_CLAIM: "d-1",
        c.CONTEXT_CLAIM: {"id": context, "title": "Course"},
        c.RESOURCE_LINK_CLAIM: {"id": link, "title": f"Link {link}"},
        _grades.AGS_CLAIM: {"scope": [SCORE], "lineitems": f"https://lms/{context}/li"},
        _grades.NRPS_CLAIM: {"context_memberships_url": f"https://lms/{context}/m"},
    }


def test_launches_accumulate_links_and_courses():
    reg = registration("https://lms.example.edu/token")
    first = _grades.services_entry(launch_claims("a"), reg)
    merged = _grades.merge_services(first, _grades.services_entry(launch_claims("b"), reg))
    merged = _grades.merge_services(merged, _grades.services_entry(launch_claims("x", "c2"), reg))
    assert merged["registration"] == reg.id and merged["sub"] == "s-1"
    assert merged["client_id"] == "tool-1" and merged["deployment_id"] == "d-1"
    assert list(merged["contexts"]) == ["c1", "c2"]
    assert list(merged["contexts"]["c1"]["links"]) == ["a", "b"]
    assert merged["contexts"]["c1"]["memberships_url"] == "https://lms/c1/m"
    # a launch without services keeps what is known; another sub starts afresh
    assert _grades.merge_services(merged, None) == merged
    other = _grades.services_entry({**launch_claims("z"), "sub": "s-2"}, reg)
    assert _grades.merge_services(merged, other) == other
    assert (
        _grades.services_entry(
            {**launch_claims("a"), _grades.AGS_CLAIM: None, _grades.NRPS_CLAIM: None}, reg
        )
        is None
    )


def test_kept_links_are_bounded():
    reg = registration("https://lms.example.edu/token")
    merged = None
    for n in range(_grades.MAX_LINKS + 5):
        merged = _grades.merge_services(merged, _grades.services_entry(launch_claims(str(n)), reg))
    links = merged["contexts"]["c1"]["links"]
    assert len(links) == _grades.MAX_LINKS and str(_grades.MAX_LINKS + 4) in links
    assert len(json.dumps(merged)) < 20_000


def test_platform_entries_take_token_url_and_audience():
    entry = normalize_platform_entry(
        {
            "issuer": "https://x",
            "client_id": "1",
            "token_url": "https://x/token",
            "token_audience": "aud",
        },
        0,
    )
    assert entry["token_url"] == "https://x/token" and entry["token_audience"] == "aud"
    with pytest.raises(ValueError, match="token_url must be a string"):
        normalize_platform_entry({"issuer": "https://x", "client_id": "1", "token_url": 5}, 0)


def test_tool_configuration_lists_service_scopes_only_when_given():
    kwargs = dict(title="t", description="d", oidc_initiation_url="u", target_link_uri="v")
    assert tool_configuration(**kwargs)["scopes"] == []
    scopes = tool_configuration(**kwargs, scopes=_grades.SERVICE_SCOPES)["scopes"]
    assert _grades.SCOPE_SCORE in scopes and _grades.SCOPE_MEMBERSHIPS in scopes
