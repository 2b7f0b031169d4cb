"""LTI11Authenticator: the 1.6.3 names, configuration and authenticate(), without a hub."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import entry_points
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import HTTPError
from traitlets.config import Config

import ltiauthenticator
import ltiauthenticator.lti11.auth as auth_module
from ltiauthenticator.lti11 import constants
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.handlers import LTI11AuthenticateHandler, LTI11ConfigHandler
from ltiauthenticator.lti11.templates import render_config_xml

from .conftest import CONSUMER_KEY, CONSUMER_SECRET, launch_params, sign


def launch_handler(form, url: str, headers=None) -> SimpleNamespace:
    """A handler whose ``request`` is a real tornado request carrying the launch form."""
    parts = urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    request = HTTPServerRequest(
        start_line=RequestStartLine("POST", uri, "HTTP/1.1"),
        headers=HTTPHeaders(
            {"Host": parts.netloc, "Content-Type": "application/x-www-form-urlencoded"},
            **(headers or {}),
        ),
        body=urlencode(form).encode(),
    )
    request._parse_body()
    return SimpleNamespace(request=request)


@pytest.fixture
def authenticator() -> LTI11Authenticator:
    return LTI11Authenticator(consumers={CONSUMER_KEY: CONSUMER_SECRET})


def test_the_163_names_import() -> None:
    assert ltiauthenticator.LTIAuthenticator is LTI11Authenticator
    assert ltiauthenticator.__version__
    assert callable(auth_module.get_browser_protocol)
    for name in (
        "LTI11_LAUNCH_PARAMS_REQUIRED",
        "LTI11_LAUNCH_PARAMS_RECOMMENDED",
        "LTI11_LAUNCH_PARAMS_OTIONAL",
        "LTI11_LIS_OPTION",
        "LTI11_OAUTH_ARGS",
        "LTI11_LAUNCH_PARAMS_ALL",
    ):
        assert isinstance(getattr(constants, name), list), name
    assert "oauth_callback" not in constants.LTI11_OAUTH_ARGS
    assert set(constants.LTI11_OAUTH_ARGS) <= set(constants.LTI11_LAUNCH_PARAMS_REQUIRED)


def test_the_entry_point_names_the_authenticator() -> None:
    (entry,) = [e for e in entry_points(group="jupyterhub.authenticators") if e.name == "lti11"]
    assert entry.load() is LTI11Authenticator


def test_defaults_are_those_of_163() -> None:
    a = LTI11Authenticator()
    assert a.login_service == "LTI 1.1"
    assert a.auto_login is True
    assert a.consumers == {}
    assert a.username_key == "custom_canvas_user_id"
    assert a.uri_scheme == "auto"
    assert a.config_title == "JupyterHub"
    assert a.config_description == "JupyterHub LTI 1.1 external tool"
    assert a.config_icon == ""


async def _allowed(authenticator: LTI11Authenticator, name: str) -> bool:
    allowed = authenticator.check_allowed(name, None)
    return await allowed if inspect.isawaitable(allowed) else allowed


async def test_everyone_launched_may_log_in_unless_allow_config_is_set() -> None:
    # JupyterHub 5+ would admit nobody without allow config; 1.x hubs relied on everyone.
    assert await _allowed(LTI11Authenticator(), "anyone")
    restricted = LTI11Authenticator(allowed_users={"ada"})
    assert await _allowed(restricted, "ada")
    assert not await _allowed(restricted, "anyone")


def test_urls_and_handlers(authenticator) -> None:
    assert authenticator.login_url("/hub/") == "/hub/lti/launch"
    assert authenticator.get_handlers(None) == [
        ("/lti/launch", LTI11AuthenticateHandler),
        ("/lti11/config", LTI11ConfigHandler),
    ]


def test_config_by_the_alias_name_and_by_the_class_name() -> None:
    config = Config()
    config.LTIAuthenticator.consumers = {"old": "secret"}
    config.LTIAuthenticator.username_key = "user_id"
    config.LTI11Authenticator.username_key = "lis_person_contact_email_primary"
    a = ltiauthenticator.LTIAuthenticator(config=config)
    assert a.consumers == {"old": "secret"}
    # the class's own section wins over the alias's
    assert a.username_key == "lis_person_contact_email_primary"


@pytest.mark.parametrize("consumers", [{"": "x"}, {"k": ""}, {"k": 1}])
def test_consumers_must_be_non_empty_strings(consumers) -> None:
    with pytest.raises(Exception, match="LTI11Authenticator.consumers"):
        LTI11Authenticator(consumers=consumers)


def test_every_config_trait_has_help() -> None:
    traits = LTI11Authenticator.class_traits(config=True)
    own = {"consumers", "username_key", "uri_scheme", "config_title", "config_description"}
    assert own | {"config_icon"} <= set(traits)
    assert [n for n, t in traits.items() if not (t.help or "").strip()] == []


@pytest.mark.parametrize(
    "setting, header, expected",
    [
        ("auto", {}, "http"),
        ("auto", {"X-Forwarded-Proto": "https"}, "https"),
        ("HTTPS", {}, "https"),
        ("http", {"X-Forwarded-Proto": "https"}, "http"),
    ],
)
def test_uri_scheme(setting, header, expected) -> None:
    a = LTI11Authenticator(uri_scheme=setting)
    request = launch_handler({}, "http://hub.example.edu/hub/lti/launch", header).request
    assert a.get_uri_scheme(request) == expected


def test_get_uri_scheme_looks_up_get_browser_protocol_at_call_time(monkeypatch) -> None:
    monkeypatch.setattr(auth_module, "get_browser_protocol", lambda request: "https")
    assert LTI11Authenticator().get_uri_scheme(object()) == "https"


async def test_authenticate_returns_the_name_and_the_launch_without_oauth(authenticator) -> None:
    url = "http://hub.example.edu/hub/lti/launch"
    form = sign(url, launch_params("ada", custom_canvas_user_id="4242"))

    model = await authenticator.authenticate(launch_handler(form, url))

    assert model["name"] == "4242"  # the default username_key, custom_canvas_user_id
    assert model["auth_state"]["user_id"] == "lti11-ada"
    assert model["auth_state"]["custom_canvas_user_id"] == "4242"
    assert not [k for k in model["auth_state"] if k.startswith("oauth_")]


async def test_without_custom_canvas_user_id_the_username_is_user_id(authenticator) -> None:
    url = "http://hub.example.edu/hub/lti/launch"
    form = sign(url, launch_params("ada"))
    model = await authenticator.authenticate(launch_handler(form, url))
    assert model["name"] == "lti11-ada"


async def test_the_launch_url_includes_host_port_and_query(authenticator) -> None:
    url = "http://hub.example.edu:8000/hub/lti/launch?course=101"
    form = sign(url, launch_params("ada"))
    model = await authenticator.authenticate(launch_handler(form, url))
    assert model["auth_state"]["course"] == "101"


async def test_a_launch_through_a_tls_proxy_is_checked_against_https(authenticator) -> None:
    form = sign("https://hub.example.edu/hub/lti/launch", launch_params("ada"))
    handler = launch_handler(
        form, "http://hub.example.edu/hub/lti/launch", {"X-Forwarded-Proto": "https"}
    )
    assert (await authenticator.authenticate(handler))["name"] == "lti11-ada"


async def test_an_invalid_launch_raises_http_error(authenticator) -> None:
    url = "http://hub.example.edu/hub/lti/launch"
    form = sign(url, launch_params("ada"), secret="wrong")
    with pytest.raises(HTTPError) as info:
        await authenticator.authenticate(launch_handler(form, url))
    assert info.value.status_code == 401


def test_get_username_falls_back_to_user_id_then_none() -> None:
    a = LTI11Authenticator(username_key="lis_person_contact_email_primary")
    assert a.get_username({"lis_person_contact_email_primary": "a@x", "user_id": "u"}) == "a@x"
    assert a.get_username({"lis_person_contact_email_primary": "", "user_id": "u"}) == "u"
    assert a.get_username({}) is None
    assert LTI11Authenticator(username_key=None).get_username({"user_id": "u"}) == "u"


def test_the_config_xml_escapes_its_values() -> None:
    xml = render_config_xml("Data & <Science>", "d", "", "https://hub/hub/lti/launch?a=1&b=2")
    assert "<blti:title>Data &amp; &lt;Science&gt;</blti:title>" in xml
    assert "?a=1&amp;b=2</blti:launch_url>" in xml


def test_the_alias_is_imported_on_first_use_only() -> None:
    """``import ltiauthenticator`` (the grades command line, an LTI 1.3 hub) leaves the
    LTI 1.1 code and JupyterHub's handlers unimported; the 1.x spellings still work."""
    probe = (
        "import sys, ltiauthenticator, ltiauthenticator.grades\n"
        "assert 'ltiauthenticator.lti11.auth' not in sys.modules\n"
        "assert 'jupyterhub.handlers' not in sys.modules\n"
        "assert 'LTIAuthenticator' in dir(ltiauthenticator)\n"
        "from ltiauthenticator import LTIAuthenticator\n"
        "from ltiauthenticator.lti11.auth import LTI11Authenticator\n"
        "assert LTIAuthenticator is LTI11Authenticator is ltiauthenticator.LTIAuthenticator\n"
        "from traitlets.utils.importstring import import_item\n"
        "assert import_item('ltiauthenticator.LTIAuthenticator') is LTI11Authenticator\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        ltiauthenticator.Nothing  # noqa: B018
