"""The pure parts of Deep Linking: settings, destinations, items, checks, claims, tokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltiauthenticator.lti13 import _deep_linking as dl
from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._state import next_url_from_target_link_uri, sanitize_next_url
from ltiauthenticator.lti13.error import BusyError, IncorrectValueError

HUB = "https://hub.example.edu"


def settings(**overrides):
    raw = {
        "deep_link_return_url": "https://lms.example/return",
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        **overrides,
    }
    return dl.settings_from_claims({c.DEEP_LINKING_SETTINGS_CLAIM: raw})


def test_settings_are_read_defensively():
    s = settings(accept_multiple="yes", accept_lineitem=True, title=5, accept_types=["x", 3])
    assert s.accept_multiple is False  # only a JSON true counts
    assert s.accept_lineitem is True
    assert s.title == ""
    assert list(s.accept_types) == ["x"]
    assert not s.accepts_links and not s.has_data


@pytest.mark.parametrize("data", [None, "", 0, False, [], {"a": [1]}])
def test_data_present_is_echoed_verbatim_even_when_falsy(data):
    claims = dl.response_claims(
        client_id="tool",
        issuer="https://lms",
        deployment_id="d",
        settings=settings(data=data),
        content_items=[],
    )
    assert dl.DATA_CLAIM in claims and claims[dl.DATA_CLAIM] == data


def test_response_claims_shape():
    claims = dl.response_claims(
        client_id="tool",
        issuer="https://lms",
        deployment_id="d1",
        settings=settings(),
        content_items=[{"type": "ltiResourceLink", "url": "u"}],
        msg="done",
        now=1000,
    )
    assert (claims["iss"], claims["aud"], claims["iat"], claims["exp"]) == (
        "tool",
        "https://lms",
        1000,
        1600,
    )
    assert len(claims["nonce"]) >= 32
    assert claims[c.MESSAGE_TYPE_CLAIM] == "LtiDeepLinkingResponse"
    assert claims[c.VERSION_CLAIM] == "1.3.0" and claims[c.DEPLOYMENT_ID_CLAIM] == "d1"
    assert claims[dl.MSG_CLAIM] == "done" and dl.ERRORMSG_CLAIM not in claims
    assert dl.DATA_CLAIM not in claims  # the request had none
    other = dl.response_claims(
        client_id="t", issuer="i", deployment_id="d", settings=settings(), content_items=[]
    )
    assert other["nonce"] != claims["nonce"]


def test_our_client_id_prefers_azp_then_our_aud():
    assert dl.our_client_id({"aud": ["x", "ours"], "azp": "ours"}, ["ours"]) == "ours"
    assert dl.our_client_id({"aud": ["x", "b"]}, ["a", "b"]) == "b"
    assert dl.our_client_id({"aud": "a"}, ["a"]) == "a"
    with pytest.raises(IncorrectValueError):
        dl.our_client_id({"aud": "x"}, ["a"])


def test_nbgitpuller_link_is_encoded_and_opens_the_file_in_the_chosen_ui():
    link = dl.nbgitpuller_next(
        "https://github.com/org/my-course.git", "main", "week 1/a&b.ipynb", "notebook"
    )
    path, _, query = link.partition("?")
    assert path == "/hub/user-redirect/git-pull"
    assert parse_qs(query) == {
        "repo": ["https://github.com/org/my-course.git"],
        "branch": ["main"],
        "urlpath": ["notebooks/my-course.git/week 1/a&b.ipynb"],
    }
    assert " " not in link and "a&b" not in link
    assert parse_qs(dl.nbgitpuller_next("https://x.org/r", urlpath="lab")[27:])["urlpath"] == [
        "lab"
    ]


@pytest.mark.parametrize(
    "repo", ["", "ftp://x/r", "file:///etc", "javascript:alert(1)", "https://", "https://x y/r"]
)
def test_nbgitpuller_refuses_repositories_that_are_not_http_urls(repo):
    with pytest.raises(dl.PickerInputError):
        dl.nbgitpuller_next(repo)


@pytest.mark.parametrize("branch", ["a b", "a..b", "x\ny", "~^:"])
def test_nbgitpuller_refuses_odd_branches(branch):
    with pytest.raises(dl.PickerInputError, match="branch"):
        dl.nbgitpuller_next("https://x.org/r", branch)


@pytest.mark.parametrize(
    "path", ["../etc", "a/../../b", "https://evil.example/x", "a\\b", "a\x00b", "x" * 2000]
)
def test_server_paths_stay_inside_the_server(path):
    with pytest.raises(dl.PickerInputError):
        dl.user_redirect(path)


@given(st.text(max_size=60))
def test_every_accepted_path_round_trips_through_the_launch_url(path):
    """Whatever is accepted comes back, through the item URL the platform launches,
    as the same same-hub path the callback's next-URL logic keeps as it is."""
    try:
        destination = dl.user_redirect(path)
    except dl.PickerInputError:
        return
    assert destination.startswith("/hub/user-redirect/")
    url = dl.hub_launch_url(HUB, "/hub/", destination)
    recovered = next_url_from_target_link_uri(url, "/", "/hub/")
    assert recovered == destination
    assert sanitize_next_url(recovered, "/") == destination


@given(st.text(max_size=30), st.text(max_size=30))
def test_every_accepted_nbgitpuller_link_round_trips(name, inner):
    try:
        destination = dl.nbgitpuller_next(f"https://example.org/{name}", "main", inner)
    except dl.PickerInputError:
        return
    url = dl.hub_launch_url(HUB, "/hub/", destination)
    assert next_url_from_target_link_uri(url, "/", "/hub/") == destination


def test_content_item():
    item = dl.content_item(
        title="T",
        text="about",
        next_path="/hub/user-redirect/lab",
        hub_origin=HUB,
        hub_base_url="/hub/",
        custom={"week": "1"},
        target="window",
        line_item=dl.LineItem(10, "Lab", tag="t"),
    )
    assert item == {
        "type": "ltiResourceLink",
        "title": "T",
        "text": "about",
        "url": HUB + "/hub/?next=%2Fhub%2Fuser-redirect%2Flab",
        "custom": {"week": "1", "next": "/hub/user-redirect/lab"},
        "window": {"targetName": "_blank"},
        "lineItem": {"scoreMaximum": 10, "label": "Lab", "tag": "t"},
    }
    home = dl.content_item(title="H", next_path="", hub_origin=HUB, hub_base_url="/hub/")
    assert home["url"] == HUB + "/hub/" and home["custom"] == {"next": "/hub/"}


def test_checks_refuse_what_the_platform_does_not_accept():
    link = {"type": "ltiResourceLink", "url": "u"}
    dl.check_items([link], settings())
    with pytest.raises(dl.PickerInputError, match="only one"):
        dl.check_items([link, link], settings())
    dl.check_items([link, link], settings(accept_multiple=True))
    with pytest.raises(dl.PickerInputError, match="ltiResourceLink"):
        dl.check_items([link], settings(accept_types=["file", "html"]))
    with pytest.raises(dl.PickerInputError, match="window"):
        dl.check_items([{**link, "window": {}}], settings(accept_presentation_document_targets=[]))
    with pytest.raises(dl.PickerInputError, match="gradebook"):
        dl.check_items([{**link, "lineItem": {}}], settings())
    dl.check_items([{**link, "lineItem": {}}], settings(accept_lineitem=True))


def test_custom_parameters():
    assert dl.parse_custom("a=1\n\n b_2 = x=y \r\n") == {"a": "1", "b_2": "x=y"}
    for bad in ("novalue", "1a=x", "a-b=x", "next=/x", "\n".join(f"k{i}=v" for i in range(21))):
        with pytest.raises(dl.PickerInputError):
            dl.parse_custom(bad)


@pytest.mark.parametrize("maximum", ["", "abc", "0", "-1", "1e9", "nan", "inf"])
def test_line_item_needs_a_sane_maximum(maximum):
    with pytest.raises(dl.PickerInputError, match="maximum score"):
        dl.parse_line_item({"grade": "on", "grade_max": maximum}, "T")


def test_line_item_defaults_its_label_and_is_off_unless_asked():
    assert dl.parse_line_item({"grade_max": "5"}, "T") is None
    item = dl.parse_line_item({"grade": "on", "grade_max": "2.5"}, "Title")
    assert item.claim() == {"scoreMaximum": 2.5, "label": "Title"}


@pytest.mark.parametrize(
    "entry, message",
    [
        ("x", "dict"),
        ({"title": "t", "colour": "red"}, "unknown keys"),
        ({"title": "", "url": "/hub/x"}, "title"),
        ({"title": "t", "url": "/hub/x", "repo": "https://x.org/r"}, "only one"),
        ({"title": "t", "repo": "git@github.com:org/r"}, "http"),
        ({"title": "t", "url": "https://evil.example/hub/x"}, "path on the hub"),
        ({"title": "t", "url": "relative/x"}, "outside this hub"),
        ({"title": "t", "path": 3}, "strings"),
    ],
)
def test_configured_choices_are_checked(entry, message):
    with pytest.raises(ValueError, match=message):
        dl.choice_from_config(entry)


def test_a_repo_choice_may_name_a_file_inside_it():
    choice = dl.choice_from_config({"title": "W1", "repo": "https://x.org/c", "path": "w1"})
    assert "urlpath=lab%2Ftree%2Fc%2Fw1" in choice.next_path("/hub/")


def form(**fields):
    return dl.item_from_form(fields, settings(), [], hub_origin=HUB, hub_base_url="/hub/")


def test_form_titles_default_to_the_request_then_jupyterhub():
    assert form(kind="home")["title"] == "JupyterHub"
    requested = dl.item_from_form(
        {"kind": "home"}, settings(title="Pick"), [], hub_origin=HUB, hub_base_url="/hub/"
    )
    assert requested["title"] == "Pick"


def test_form_refuses_control_characters_in_text():
    with pytest.raises(dl.PickerInputError, match="control"):
        form(kind="home", title="a\x1bb")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def context():
    return dl.PickerContext("u", "https://lms", "tool", "d", settings())


def test_picker_tokens_are_single_use_and_expire():
    clock = Clock()
    sessions = dl.PickerSessions(ttl=60, clock=clock)
    token = sessions.open(context())
    assert sessions.peek(token) is not None and sessions.peek(token) is not None
    assert sessions.take(token) is not None
    assert sessions.take(token) is None and sessions.peek(token) is None
    late = sessions.open(context())
    clock.now = 61
    assert sessions.take(late) is None


@pytest.mark.parametrize("forged", [None, 5, "", "a.b.c", "x" * 300])
def test_picker_tokens_refuse_garbage(forged):
    assert dl.PickerSessions().peek(forged) is None


def test_picker_tokens_need_their_secret():
    sessions = dl.PickerSessions()
    key, _ = sessions.open(context()).split(".")
    assert sessions.take(key + ".guess") is None


def test_picker_sessions_are_bounded():
    sessions = dl.PickerSessions(max_entries=2)
    sessions.open(context())
    sessions.open(context())
    with pytest.raises(BusyError):
        sessions.open(context())


def test_item_urls_point_at_the_hub():
    item = form(kind="path", path="lab/tree/x.ipynb")
    assert urlsplit(item["url"]).netloc == urlsplit(HUB).netloc
