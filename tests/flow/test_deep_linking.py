"""Deep Linking 2.0 end to end: a real hub, the emulator as the LMS, lti1p3platform too.

An instructor's deep-linking launch gets the picker (in the callback's response); the
picker's form is posted with its single-use token; the hub answers with an
auto-submitting form carrying the signed ``LtiDeepLinkingResponse``, which is posted
to the emulator's return URL (checked as a strict platform would) and to the
independent ``lti1p3platform`` validator. A student then launches the created link.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import LtiDeepLinkingResponseException, LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.registration import Registration

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._deep_linking import CONTENT_ITEMS_CLAIM, DATA_CLAIM, MSG_CLAIM
from ltiauthenticator.lti13._tool_keys import public_jwk
from ltiauthenticator.platform_emulator import Launch
from ltiauthenticator.platform_emulator.deep_linking import link_launch_fields, record_of

from ..support.client import parse_form
from ..support.waiting import wait_until

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
TOOL_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
TOOL_KID = public_jwk(TOOL_PEM.encode())["kid"]
CHOICES = [
    {"title": "Week 1 notebooks", "repo": "https://example.org/course.git", "path": "week1"},
    {"title": "The lab", "url": "/hub/user-redirect/lab"},
]


@pytest.fixture(scope="module", autouse=True)
def known_tool_key(session_hub):
    """The hub signs with a key these tests know (to sign altered responses), for the
    whole module: loading a key takes ~35 ms of CPU, twice for each test otherwise."""
    undo = session_hub.override({"LTI13Authenticator": {"tool_private_key": TOOL_PEM}})
    yield
    undo()


@pytest.fixture
def dl_hub(hub_with):
    """A hub with the known tool key and two offered choices."""
    return hub_with(LTI13Authenticator={"deep_linking_choices": CHOICES})


def deep_linking_launch(emulator, client, user, role="instructor", settings=None) -> Tuple:
    claims = {}
    if settings is not None:
        claims[c.DEEP_LINKING_SETTINGS_CLAIM] = {
            "deep_link_return_url": emulator.url + "/deep_link_return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            **settings,
        }
    launch = Launch(user=user, role=role, message_type=c.DEEP_LINKING_REQUEST, claims=claims)
    _, url = emulator.start_launch(launch)
    return launch, client.launch(url)


def picker(result) -> Tuple[str, str]:
    """The picker form's action and token, from the callback's answer."""
    response = result.callback
    assert response.status_code == 200, (response.status_code, response.text[-800:])
    action, fields = parse_form(response.text, response.url)
    assert urlsplit(action).path == "/hub/lti13/deep_linking"
    return action, fields["token"]


def submit(client, hub, action, fields, origin=None):
    headers = {"Origin": origin if origin is not None else hub.url}
    return client.session.post(action, data=fields, headers=headers, timeout=15)


def response_form(response) -> Tuple[str, Dict[str, str]]:
    assert response.status_code == 200, (response.status_code, response.text[-800:])
    return parse_form(response.text, response.url)


def unverified(token: str) -> Dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def pick(emulator, hub, client, user, fields, settings=None) -> Tuple[Launch, str, str]:
    """Launch as an instructor, submit ``fields``; the return URL and the signed JWT."""
    launch, result = deep_linking_launch(emulator, client, user, settings=settings)
    action, token = picker(result)
    return_url, form = response_form(submit(client, hub, action, {"token": token, **fields}))
    return launch, return_url, form["JWT"]


def sign_as_tool(claims: Dict[str, Any]) -> str:
    return jwt.encode(claims, TOOL_PEM, algorithm="RS256", headers={"kid": TOOL_KID})


# -- the picker ------------------------------------------------------------------------------


def test_instructor_picks_a_path_and_the_emulator_creates_the_link(dl_hub, emulator, client, user):
    fields = {"kind": "path", "path": "lab/tree/week3/intro.ipynb", "title": "Week 3"}
    launch, return_url, token = pick(emulator, dl_hub, client, user, fields)

    assert return_url == emulator.url + "/deep_link_return"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == TOOL_KID
    claims = unverified(token)
    assert claims["iss"] == emulator.tool.client_id and claims["aud"] == emulator.issuer
    assert claims["exp"] - claims["iat"] == 600
    assert claims[c.MESSAGE_TYPE_CLAIM] == "LtiDeepLinkingResponse"
    assert claims[c.DEPLOYMENT_ID_CLAIM] == emulator.tool.deployment_id
    assert claims[DATA_CLAIM] == f"request-{launch.id}"  # echoed
    (item,) = claims[CONTENT_ITEMS_CLAIM]
    destination = "/hub/user-redirect/lab/tree/week3/intro.ipynb"
    assert item["type"] == "ltiResourceLink" and item["title"] == "Week 3"
    assert urlsplit(item["url"]).path == "/hub/"
    assert parse_qs(urlsplit(item["url"]).query) == {"next": [destination]}
    assert item["custom"] == {"next": destination}
    assert "lineItem" not in item  # the emulator's default settings accept none

    accepted = client.session.post(return_url, data={"JWT": token}, timeout=15)
    assert accepted.status_code == 200, accepted.text
    assert record_of(emulator.platform).links[-1].url == item["url"]
    course = client.session.get(emulator.url + "/", timeout=15).text
    assert "Week 3" in course and "link=" in course
    # a platform accepts each response once
    replay = client.session.post(return_url, data={"JWT": token}, timeout=15)
    assert replay.status_code == 400 and "nonce already used" in replay.text


def test_the_picker_escapes_what_the_platform_sent(dl_hub, emulator, client, user):
    settings = {"title": "<script>alert(1)</script>", "text": "\"'><b>"}
    _, result = deep_linking_launch(emulator, client, user, settings=settings)
    page = result.callback.text
    assert "<script>alert(1)</script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "/relative"])
def test_a_return_url_a_form_cannot_safely_post_to_is_refused(dl_hub, emulator, client, user, url):
    _, result = deep_linking_launch(emulator, client, user, settings={"deep_link_return_url": url})
    assert result.callback.status_code == 400
    assert "deep_link_return_url is not an http(s) URL" in result.callback.text


def test_learner_deep_linking_launch_just_logs_in(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user, role="student")
    assert result.callback.status_code == 302
    assert "deep_linking" not in result.callback.text
    assert dl_hub.user(f"{user}@example.edu") is not None


def test_deep_linking_roles_decide_who_gets_the_picker(hub_with, emulator, client, user):
    hub_with(LTI13Authenticator={"deep_linking_roles": ["Learner"]})
    _, as_student = deep_linking_launch(emulator, client, user, role="student")
    picker(as_student)
    _, as_instructor = deep_linking_launch(emulator, client, user + "i", role="instructor")
    assert as_instructor.callback.status_code == 302


def test_configured_choices_are_offered_and_an_nbgitpuller_link_reaches_the_student(
    dl_hub, emulator, client, user
):
    launch, result = deep_linking_launch(emulator, client, user)
    page = result.callback.text
    assert "Week 1 notebooks" in page and "The lab" in page
    action, token = picker(result)
    fields = {"token": token, "kind": "nbgitpuller", "title": "Intro"}
    fields.update(repo="https://example.org/org/course.git", branch="main", ui="lab")
    fields["repo_path"] = "week1/intro.ipynb"
    return_url, form = response_form(submit(client, dl_hub, action, fields))
    assert client.session.post(return_url, data=form, timeout=15).status_code == 200
    index = str(len(record_of(emulator.platform).links) - 1)

    student = type(client)()
    _, url = emulator.start_launch(
        Launch(user=user + "s", **link_launch_fields(emulator.platform, index))
    )
    landed = student.launch(url).callback
    assert landed.status_code == 302, landed.text[-800:]
    location = urlsplit(landed.headers["Location"])
    assert location.path == "/hub/user-redirect/git-pull"
    assert parse_qs(location.query) == {
        "repo": ["https://example.org/org/course.git"],
        "branch": ["main"],
        "urlpath": ["lab/tree/course.git/week1/intro.ipynb"],
    }


def test_a_configured_choice_is_sent_as_configured(dl_hub, emulator, client, user):
    _, _, token = pick(emulator, dl_hub, client, user, {"kind": "choice-1"})
    (item,) = unverified(token)[CONTENT_ITEMS_CLAIM]
    assert item["title"] == "The lab" and item["custom"]["next"] == "/hub/user-redirect/lab"


def test_several_links_when_the_platform_accepts_several(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user, settings={"accept_multiple": True})
    action, token = picker(result)
    first = submit(
        client, dl_hub, action, {"token": token, "kind": "choice-0", "action": "add_more"}
    )
    assert first.status_code == 200 and "Links ready to send (1)" in first.text
    assert picker_token(first) == token  # the same picker, still open
    bad = submit(client, dl_hub, action, {"token": token, "kind": "path", "path": "../x"})
    assert bad.status_code == 400  # a mistake in the next one keeps what is ready
    second = submit(
        client, dl_hub, action, {"token": token, "kind": "choice-1", "action": "add_more"}
    )
    assert "Links ready to send (2)" in second.text
    last = {"token": token, "kind": "path", "path": "lab/tree/c.ipynb", "title": "C"}
    return_url, form = response_form(submit(client, dl_hub, action, last))
    items = unverified(form["JWT"])[CONTENT_ITEMS_CLAIM]
    assert [i["title"] for i in items] == ["Week 1 notebooks", "The lab", "C"]
    before = len(record_of(emulator.platform).links)
    assert client.session.post(return_url, data=form, timeout=15).status_code == 200
    assert len(record_of(emulator.platform).links) == before + 3


def test_links_composed_so_far_can_be_sent_alone(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user, settings={"accept_multiple": True})
    action, token = picker(result)
    nothing = submit(client, dl_hub, action, {"token": token, "action": "send"})
    assert nothing.status_code == 400 and "no link to send" in nothing.text
    submit(client, dl_hub, action, {"token": token, "kind": "home", "action": "add_more"})
    _, form = response_form(submit(client, dl_hub, action, {"token": token, "action": "send"}))
    assert len(unverified(form["JWT"])[CONTENT_ITEMS_CLAIM]) == 1


def test_one_link_only_unless_the_platform_accepts_several(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user)
    assert "lti13-add-more" not in result.callback.text
    action, token = picker(result)
    more = submit(client, dl_hub, action, {"token": token, "kind": "home", "action": "add_more"})
    assert more.status_code == 400 and "only one link" in more.text
    odd = submit(client, dl_hub, action, {"token": token, "kind": "home", "action": "explode"})
    assert odd.status_code == 400 and "Unknown action" in odd.text


def picker_token(response) -> str:
    return parse_form(response.text, response.url)[1]["token"]


def test_cancel_sends_no_items_with_a_message(dl_hub, emulator, client, user):
    _, return_url, token = pick(emulator, dl_hub, client, user, {"action": "cancel"})
    claims = unverified(token)
    assert claims[CONTENT_ITEMS_CLAIM] == [] and claims[MSG_CLAIM]
    response = client.session.post(return_url, data={"JWT": token}, timeout=15)
    assert response.status_code == 200 and "0 link(s) added" in response.text


def test_data_of_any_shape_is_echoed_verbatim(dl_hub, emulator, client, user):
    data = {"course": "DATA101", "list": [1, "two", None], "nested": {"ok": True}}
    _, return_url, token = pick(
        emulator, dl_hub, client, user, {"kind": "home"}, settings={"data": data}
    )
    assert unverified(token)[DATA_CLAIM] == data
    assert client.session.post(return_url, data={"JWT": token}, timeout=15).status_code == 200


def test_grading_is_offered_and_sent_only_when_line_items_are_accepted(
    dl_hub, emulator, client, user
):
    grade = {"grade": "on", "grade_max": "10", "grade_label": "Lab 1", "grade_tag": "lab"}
    _, return_url, token = pick(
        emulator,
        dl_hub,
        client,
        user,
        {"kind": "home", "title": "Lab 1", **grade},
        settings={"accept_lineitem": True},
    )
    (item,) = unverified(token)[CONTENT_ITEMS_CLAIM]
    assert item["lineItem"] == {"scoreMaximum": 10, "label": "Lab 1", "tag": "lab"}
    assert client.session.post(return_url, data={"JWT": token}, timeout=15).status_code == 200

    _, result = deep_linking_launch(emulator, client, user)
    assert "grade_max" not in result.callback.text
    action, token = picker(result)
    refused = submit(client, dl_hub, action, {"token": token, "kind": "home", **grade})
    assert refused.status_code == 400 and "gradebook" in refused.text


def test_accept_types_without_links_offers_only_cancel(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user, settings={"accept_types": ["file"]})
    assert "does not accept links" in result.callback.text
    action, token = picker(result)
    refused = submit(client, dl_hub, action, {"token": token, "kind": "home"})
    assert refused.status_code == 400 and "ltiResourceLink" in refused.text
    cancelled = submit(client, dl_hub, action, {"token": token, "action": "cancel"})
    return_url, form = response_form(cancelled)
    assert client.session.post(return_url, data=form, timeout=15).status_code == 200


def test_presentation_target_must_be_one_the_platform_listed(dl_hub, emulator, client, user):
    settings = {"accept_presentation_document_targets": ["iframe"]}
    _, result = deep_linking_launch(emulator, client, user, settings=settings)
    action, token = picker(result)
    window = submit(client, dl_hub, action, {"token": token, "kind": "home", "target": "window"})
    assert window.status_code == 400 and "window" in window.text
    framed = submit(client, dl_hub, action, {"token": token, "kind": "home", "target": "iframe"})
    (item,) = unverified(response_form(framed)[1]["JWT"])[CONTENT_ITEMS_CLAIM]
    assert item["iframe"] == {}


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"kind": "path", "path": "../../etc/passwd"}, "inside your server"),
        ({"kind": "nbgitpuller", "repo": "javascript:alert(1)"}, "http(s) URL"),
        ({"kind": "nbgitpuller", "repo": "https://x.org/r", "branch": "a b"}, "branch"),
        ({"kind": "nbgitpuller", "repo": "https://x.org/r", "ui": "emacs"}, "interface"),
        ({"kind": "choice-7"}, "offered"),
        ({"kind": "teleport"}, "Pick what to link to"),
        ({"kind": "home", "custom": "no equals sign"}, "name=value"),
        ({"kind": "home", "custom": "next=/evil"}, "set by the hub"),
        ({"kind": "home", "title": "x" * 300}, "too long"),
        ({"kind": "home", "target": "popup"}, "Open the link in"),
    ],
)
def test_bad_picker_input_is_a_400_with_a_reason_and_can_be_fixed(
    dl_hub, emulator, client, user, fields, reason
):
    _, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    refused = submit(client, dl_hub, action, {"token": token, **fields})
    assert refused.status_code == 400 and reason in refused.text, refused.text[-1500:]
    fixed = submit(client, dl_hub, action, {"token": token, "kind": "home"})
    assert fixed.status_code == 200


def test_repeated_fields_are_a_400(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    refused = submit(client, dl_hub, action, [("token", token), ("kind", "home"), ("kind", "path")])
    assert refused.status_code == 400 and "more than once" in refused.text


def test_picker_token_is_single_use(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    assert submit(client, dl_hub, action, {"token": token, "kind": "home"}).status_code == 200
    again = submit(client, dl_hub, action, {"token": token, "kind": "home"})
    assert again.status_code == 400 and "expired or was already used" in again.text
    forged = submit(client, dl_hub, action, {"token": token.split(".")[0] + ".x", "kind": "home"})
    assert forged.status_code == 400


def test_picker_form_is_refused_from_another_origin(dl_hub, emulator, client, user):
    _, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    fields = {"token": token, "kind": "home"}
    cross = submit(client, dl_hub, action, fields, origin="https://evil.example")
    assert cross.status_code == 400 and "own page" in cross.text
    headerless = client.session.post(action, data=fields, timeout=15)
    assert headerless.status_code == 400
    same_site_fetch = client.session.post(
        action, data=fields, headers={"Sec-Fetch-Site": "same-origin"}, timeout=15
    )
    assert same_site_fetch.status_code == 200  # the token was not spent by the refusals


def test_picker_needs_no_hub_cookie(dl_hub, emulator, client, user):
    """In an LMS frame the hub's login cookie may be blocked: the token is enough."""
    _, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    cookieless = type(client)()
    response = submit(cookieless, dl_hub, action, {"token": token, "kind": "home"})
    assert response.status_code == 200 and "JWT" in response.text


def test_get_is_405(dl_hub, client):
    response = client.session.get(dl_hub.url + "/hub/lti13/deep_linking", timeout=15)
    assert response.status_code == 405


# -- the emulator refuses what a platform must refuse ------------------------------------------


def _good_claims(launch, emulator) -> Dict[str, Any]:
    now = int(time.time())
    return {
        "iss": emulator.tool.client_id,
        "aud": emulator.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": f"n-{now}-{launch.id}",
        c.DEPLOYMENT_ID_CLAIM: emulator.tool.deployment_id,
        c.MESSAGE_TYPE_CLAIM: "LtiDeepLinkingResponse",
        c.VERSION_CLAIM: "1.3.0",
        CONTENT_ITEMS_CLAIM: [{"type": "ltiResourceLink", "url": "https://hub/hub/"}],
        DATA_CLAIM: f"request-{launch.id}",
    }


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[CONTENT_ITEMS_CLAIM][0]["url"] = "https://evil.example/"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, forged, signature])


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "expired"),
        ({"aud": "https://another-lms.example"}, "audience"),
        ({"iss": "someone-else"}, "issuer"),
        ({DATA_CLAIM: "request-unknown"}, "data"),
        ({c.MESSAGE_TYPE_CLAIM: "LtiResourceLinkRequest"}, "message_type"),
        ({CONTENT_ITEMS_CLAIM: [{"type": "file", "url": "https://hub/x"}]}, "not accepted"),
        (
            {CONTENT_ITEMS_CLAIM: [{"type": "ltiResourceLink", "url": "u"}] * 2},
            "accept_multiple",
        ),
    ],
)
def test_emulator_refuses_bad_responses(dl_hub, emulator, client, user, change, reason):
    launch, _, _ = pick(emulator, dl_hub, client, user, {"action": "cancel"})
    token = sign_as_tool({**_good_claims(launch, emulator), **change})
    refused = client.session.post(emulator.url + "/deep_link_return", data={"JWT": token})
    assert refused.status_code == 400 and reason.lower() in refused.text.lower(), refused.text


def test_emulator_accepts_the_same_claims_unaltered_and_refuses_a_tampered_token(
    dl_hub, emulator, client, user
):
    """The refusals above are for the change each made: the untouched claims pass."""
    launch, _, _ = pick(emulator, dl_hub, client, user, {"action": "cancel"})
    token = sign_as_tool(_good_claims(launch, emulator))
    tampered = client.session.post(
        emulator.url + "/deep_link_return", data={"JWT": _tampered(token)}
    )
    assert tampered.status_code == 400 and "Signature" in tampered.text
    ok = client.session.post(emulator.url + "/deep_link_return", data={"JWT": token})
    assert ok.status_code == 200, ok.text


# -- an independent platform implementation: lti1p3platform (PyPI) ------------------------------


class _Platform(LTI1P3PlatformConfAbstract):
    """lti1p3platform's platform, registered with our tool's JWKS URL on the hub."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._tool = kwargs

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return (
            Registration()
            .set_iss(self._tool["issuer"])
            .set_client_id(self._tool["client_id"])
            .set_deployment_id(self._tool["deployment_id"])
            .set_tool_key_set_url(self._tool["jwks_url"])
        )


def lti1p3platform(hub, emulator) -> _Platform:
    platform = _Platform(
        issuer=emulator.issuer,
        client_id=emulator.tool.client_id,
        deployment_id=emulator.tool.deployment_id,
        jwks_url=hub.url + "/hub/lti13/jwks",
    )
    platform.get_registration()
    return platform


def test_lti1p3platform_accepts_our_response_and_refuses_altered_ones(
    dl_hub, emulator, client, user
):
    fields = {"kind": "path", "path": "lab/tree/a.ipynb", "title": "A"}
    launch, _, token = pick(emulator, dl_hub, client, user, fields)

    items = lti1p3platform(dl_hub, emulator).validate_deeplinking_resp({"JWT": token})
    assert [item["title"] for item in items] == ["A"]

    with pytest.raises(jwt.InvalidSignatureError):
        lti1p3platform(dl_hub, emulator).validate_deeplinking_resp({"JWT": _tampered(token)})
    expired = {**unverified(token), "iat": int(time.time()) - 4000}
    expired["exp"] = expired["iat"] + 600
    with pytest.raises(jwt.ExpiredSignatureError):
        lti1p3platform(dl_hub, emulator).validate_deeplinking_resp({"JWT": sign_as_tool(expired)})
    stranger = jwt.encode(unverified(token), _other_key(), algorithm="RS256", headers={"kid": "x"})
    with pytest.raises(LtiException, match="Unable to find public key"):
        lti1p3platform(dl_hub, emulator).validate_deeplinking_resp({"JWT": stranger})
    only_files = lti1p3platform(dl_hub, emulator).set_accepted_deeplinking_types(["file"])
    with pytest.raises(LtiDeepLinkingResponseException, match="not supported"):
        only_files.validate_deeplinking_resp({"JWT": token})
    # lti1p3platform 0.1.8 decodes with verify_aud=False: it cannot refuse a wrong
    # audience, which the emulator does (test_emulator_refuses_bad_responses).


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- the whole loop, into a real single-user server with nbgitpuller ----------------------------

NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def git_repository(tmp_path_factory) -> Iterator[str]:
    """A course repository served by git's "dumb" HTTP protocol (static files)."""
    root = tmp_path_factory.mktemp("git")
    work = root / "work"
    (work / "week1").mkdir(parents=True)
    (work / "week1" / "intro.ipynb").write_text(json.dumps(NOTEBOOK))

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("-c", "user.name=T", "-c", "user.email=t@example.edu", "commit", "-q", "-m", "week 1")
    served = root / "srv"
    served.mkdir()
    git("clone", "-q", "--bare", str(work), str(served / "course.git"), cwd=root)
    git("update-server-info", cwd=served / "course.git")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/course.git"
    server.shutdown()


def test_student_lands_on_the_pulled_notebook_in_a_real_server(
    hub_with, emulator, client, user, git_repository
):
    # the in-process hub's spawner settings suit this test (see IN_PROCESS_START_UP)
    hub = hub_with()
    launch, result = deep_linking_launch(emulator, client, user)
    action, token = picker(result)
    fields = {"token": token, "kind": "nbgitpuller", "title": "Week 1", "repo": git_repository}
    fields.update(branch="main", repo_path="week1/intro.ipynb", ui="lab")
    return_url, form = response_form(submit(client, hub, action, fields))
    assert client.session.post(return_url, data=form, timeout=15).status_code == 200
    index = str(len(record_of(emulator.platform).links) - 1)

    student, name = type(client)(), f"{user}s@example.edu"
    _, url = emulator.start_launch(
        Launch(user=user + "s", **link_launch_fields(emulator.platform, index))
    )
    landed = student.launch(url).callback
    assert landed.status_code == 302, landed.text[-800:]
    location = landed.headers["Location"]
    assert urlsplit(location).path == "/hub/user-redirect/git-pull"
    urlpath = parse_qs(urlsplit(location).query)["urlpath"][0]
    assert urlpath == "lab/tree/course.git/week1/intro.ipynb"

    home = Path(f"/tmp/{name}")
    started = hub.api("POST", f"/users/{quote(name)}/server")
    assert started.status_code in (201, 202), started.text
    try:
        wait_until(
            lambda: (hub.user(name)["servers"].get("") or {}).get("ready"),
            timeout=120,
            message="the single-user server did not start",
            poll=0.25,
        )
        # the link itself, as the browser follows it: hub → server → nbgitpuller's page
        page = student.session.get(hub.url + location, timeout=30)
        assert page.status_code == 200, page.text[-800:]
        assert unquote(urlsplit(page.url).path) == f"/user/{name}/git-pull"
        # what that page's script does: run the pull, reading its event stream
        pull_url = page.url.replace("/git-pull?", "/git-pull/api?", 1)
        with student.session.get(pull_url, stream=True, timeout=120) as events:
            phases = [
                json.loads(line[len("data: ") :]).get("phase")
                for line in events.iter_lines(decode_unicode=True)
                if line.startswith("data: ")
            ]
        assert phases[-1] == "finished", phases
        pulled = home / urlpath[len("lab/tree/") :]
        assert json.loads(pulled.read_text()) == NOTEBOOK
    finally:
        hub.api("DELETE", f"/users/{quote(name)}/server")
        shutil.rmtree(home, ignore_errors=True)
