"""LTI Dynamic Registration (1EdTech LTI-DR 1.0), the platform's side, played as Moodle.

An administrator pastes the tool's registration URL on the "add a tool by URL" page
(``/dynamic_registration``). The page mints a registration token and opens the tool's
URL, with ``openid_configuration`` and ``registration_token`` added to its query, in an
iframe (as Canvas does) or, with ``window=1``, in a new window (as Moodle and Brightspace
do). The tool reads the platform's OpenID configuration (``/openid-configuration``),
posts its registration to ``/dynamic_registration/register`` with the token as bearer
and, when done, posts ``{subject: "org.imsglobal.lti.close"}`` to the page, which then
closes the frame or window.

Like Moodle, the OpenID configuration is served with or without the token (a token sent
must be valid); ``platform.require_token_for_configuration`` makes it Canvas-like. A
registration token registers one tool: the first accepted registration spends it. A
rejected body does not, so the tool can correct it and post again. An accepted
registration gets a random client id and a new deployment id, and the tool becomes the
one the course page launches (``platform.tool``).
"""

from __future__ import annotations

import html
import json
import secrets
import string
from string import Template
from typing import Any, Dict, List
from urllib.parse import urlencode, urlsplit, urlunsplit

from tornado import web

from .. import _templates
from ..lti13 import constants as c
from .platform import EmulatedPlatform, ToolRegistration
from .services import SCOPES

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
CLOSE_SUBJECT = "org.imsglobal.lti.close"
#: What Moodle reports as its version in the platform configuration; the emulator's own.
PLATFORM_VERSION = "4.5 (emulated)"
#: Substitution variables the emulator can expand in custom parameters, Moodle-style.
VARIABLES = [
    "Context.id",
    "Context.label",
    "Context.title",
    "Person.email.primary",
    "Person.name.family",
    "Person.name.full",
    "Person.name.given",
    "Person.sourcedId",
    "ResourceLink.id",
    "ResourceLink.title",
    "User.id",
    "User.username",
]


class InvalidClientMetadata(ValueError):
    """A registration body LTI-DR 1.0 §3.5.2 does not accept; the message names the field."""


# -- the platform's OpenID configuration -----------------------------------------------------


def openid_configuration(platform: EmulatedPlatform) -> Dict[str, Any]:
    """The platform's OpenID configuration, with absolute URLs under its issuer."""
    base = platform.issuer
    return {
        "issuer": platform.issuer,
        "authorization_endpoint": base + "/authorize",
        "token_endpoint": base + "/token",
        "jwks_uri": base + "/jwks",
        "registration_endpoint": base + "/dynamic_registration/register",
        "scopes_supported": ["openid", *SCOPES],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        PLATFORM_CONFIGURATION: {
            "product_family_code": "moodle",
            "version": PLATFORM_VERSION,
            "messages_supported": [
                {"type": c.RESOURCE_LINK_REQUEST},
                {"type": c.DEEP_LINKING_REQUEST, "placements": ["ContentArea"]},
            ],
            "variables": list(VARIABLES),
        },
    }


# -- checking a registration -------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value the tool sent, clipped, for an error message."""
    return f"{value!r:.80}"


def _is_absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _require_equal(body: Dict[str, Any], name: str, expected: str) -> None:
    if body.get(name) != expected:
        raise InvalidClientMetadata(f"{name} must be {expected!r}, got {_shown(body.get(name))}")


def _require_members(body: Dict[str, Any], name: str, needed: List[str]) -> None:
    value = body.get(name)
    if not isinstance(value, list) or not set(needed) <= set(map(str, value)):
        wanted = " and ".join(repr(n) for n in needed)
        raise InvalidClientMetadata(f"{name} must be a list containing {wanted}")


def _require_url(document: Dict[str, Any], name: str) -> None:
    if not _is_absolute_url(document.get(name)):
        raise InvalidClientMetadata(
            f"{name} must be an absolute http(s) URL, got {_shown(document.get(name))}"
        )


def _check_tool_configuration(config: Any) -> None:
    if not isinstance(config, dict):
        raise InvalidClientMetadata(f"{TOOL_CONFIGURATION} must be an object")
    domain = config.get("domain")
    if not isinstance(domain, str) or not domain.strip():
        raise InvalidClientMetadata(f"domain (in {TOOL_CONFIGURATION}) is required")
    if not _is_absolute_url(config.get("target_link_uri")):
        raise InvalidClientMetadata(
            f"target_link_uri (in {TOOL_CONFIGURATION}) must be an absolute http(s) URL, "
            f"got {_shown(config.get('target_link_uri'))}"
        )
    messages = config.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidClientMetadata(
            f"messages (in {TOOL_CONFIGURATION}) must be a non-empty list of message types"
        )
    for index, message in enumerate(messages):
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str) or not kind:
            raise InvalidClientMetadata(
                f"messages[{index}] (in {TOOL_CONFIGURATION}) must be an object with a type"
            )


def check_registration(body: Any) -> None:
    """Raise :class:`InvalidClientMetadata` naming the first field LTI-DR §3.5.2 refuses."""
    if not isinstance(body, dict):
        raise InvalidClientMetadata("the body must be a JSON object (the tool's registration)")
    _require_equal(body, "application_type", "web")
    _require_members(body, "response_types", ["id_token"])
    _require_members(body, "grant_types", ["implicit", "client_credentials"])
    _require_url(body, "initiate_login_uri")
    _require_url(body, "jwks_uri")
    redirect_uris = body.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or not all(_is_absolute_url(uri) for uri in redirect_uris)
    ):
        raise InvalidClientMetadata(
            f"redirect_uris must be a non-empty list of absolute http(s) URLs, "
            f"got {_shown(redirect_uris)}"
        )
    _require_equal(body, "token_endpoint_auth_method", "private_key_jwt")
    name = body.get("client_name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidClientMetadata("client_name is required")
    _check_tool_configuration(body.get(TOOL_CONFIGURATION))


# -- registering -------------------------------------------------------------------------------


def _new_client_id() -> str:
    # Moodle's client ids are 15 random letters and digits
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(15))


def register(platform: EmulatedPlatform, body: Dict[str, Any]) -> Dict[str, Any]:
    """Register the tool ``body`` describes (already checked); return the response body.

    The tool becomes the platform's current tool: the course page launches into it.
    """
    config = body[TOOL_CONFIGURATION]
    # Moodle's deployment id is the tool type's number; the preconfigured tool is the first
    deployment_id = str(len(platform.registered_tools) + 2)
    tool = ToolRegistration(
        client_id=_new_client_id(),
        login_url=body["initiate_login_uri"],
        redirect_uris=list(body["redirect_uris"]),
        target_link_uri=config["target_link_uri"],
        deployment_id=deployment_id,
        client_name=body["client_name"],
        jwks_uri=body["jwks_uri"],
    )
    platform.registered_tools.append(tool)
    platform.tool = tool
    return {
        **body,
        "client_id": tool.client_id,
        TOOL_CONFIGURATION: {**config, "deployment_id": deployment_id},
    }


# -- handlers ----------------------------------------------------------------------------------


class _JSONHandler(web.RequestHandler):
    @property
    def platform(self) -> EmulatedPlatform:
        return self.settings["platform"]

    def check_xsrf_cookie(self) -> None:  # the tool calls from its server, cross-site
        pass

    def bearer_token(self) -> str:
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def refuse(self, status: int, error: str, description: str) -> None:
        self.set_status(status)
        if status == 401:
            self.set_header("WWW-Authenticate", f'Bearer error="{error}"')
        self.set_header("Content-Type", "application/json")
        self.finish({"error": error, "error_description": description})


class OpenIDConfigurationHandler(_JSONHandler):
    """``GET /openid-configuration``: token optional (Moodle) or required (Canvas)."""

    def get(self) -> None:
        platform = self.platform
        token = self.bearer_token()
        platform.configuration_requests.append({"bearer": bool(token)})
        if token or platform.require_token_for_configuration:
            problem = platform.registration_token_problem(token)
            if problem:
                self.refuse(401, "invalid_token", problem)
                return
        self.set_header("Content-Type", "application/json")
        self.finish(openid_configuration(platform))


class RegistrationHandler(_JSONHandler):
    """``POST /dynamic_registration/register``: the tool registers itself."""

    def post(self) -> None:
        platform = self.platform
        token = self.bearer_token()
        problem = platform.registration_token_problem(token)
        if problem:
            self.refuse(401, "invalid_token", problem)
            return
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):
            body = None
        platform.registration_requests.append(body)
        try:
            check_registration(body)
        except InvalidClientMetadata as e:
            self.refuse(400, "invalid_client_metadata", str(e))
            return
        platform.use_registration_token(token)
        self.set_header("Content-Type", "application/json")
        self.finish(register(platform, body))


# -- the administrator's page ----------------------------------------------------------------

_PAGE = Template(_templates.read("dynamic_registration.html", package=__package__))
_SCRIPT = _templates.read("dynamic_registration.js", package=__package__)

_FORM = """
<form method="get" action="dynamic_registration" id="dr-form">
  <p><label for="tool-url">The tool's registration URL</label><br>
  <input type="url" name="url" id="tool-url" size="70" required value="{value}"
    placeholder="https://hub.example.edu/hub/lti13/register"></p>
  <p><label><input type="checkbox" name="window" value="1" id="new-window">
    Open it in a new window (as Moodle and Brightspace do), not in a frame on this page
    (as Canvas does)</label></p>
  <button type="submit" id="register">Register</button>
</form>
"""


def _script_json(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def with_registration_query(url: str, configuration_url: str, token: str) -> str:
    """``url`` with ``openid_configuration`` and ``registration_token`` added to its query."""
    parts = urlsplit(url)
    added = urlencode({"openid_configuration": configuration_url, "registration_token": token})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def _progress(tool_url: str, shown_url: str, in_window: bool) -> str:
    config = {"tool_url": tool_url, "mode": "window" if in_window else "iframe"}
    where = "in a new window" if in_window else "below"
    return f"""
<p>The tool's registration URL: <code>{html.escape(shown_url)}</code>.
  Status: <output id="dr-status">waiting</output></p>
<p id="dr-message">The tool's registration page is open {where}: follow its steps.
  This page notices when the tool says it is done.</p>
<p id="dr-ignored" hidden></p>
<button type="button" id="open-registration" hidden>Open the tool's registration window</button>
<div id="dr-frame-holder"></div>
<noscript><p><a href="{html.escape(tool_url)}" target="_blank" rel="opener">Open the tool's
  registration page</a>. Without JavaScript this page cannot tell when it is done.</p></noscript>
<script type="application/json" id="dr-config">{_script_json(config)}</script>
<script>{_SCRIPT}</script>
"""


class RegistrationPageHandler(web.RequestHandler):
    """``GET /dynamic_registration``: the administrator's "add a tool by URL" screen."""

    @property
    def platform(self) -> EmulatedPlatform:
        return self.settings["platform"]

    def get(self) -> None:
        url = self.get_argument("url", "").strip()
        form = _FORM.format(value=html.escape(self.platform.suggested_registration_url))
        if not url:
            self._write_page(form)
            return
        if not _is_absolute_url(url):
            self.set_status(400)
            self._write_page(
                "<p id='dr-error' role='alert'>The tool's registration URL must be an absolute "
                f"http or https URL; got <code>{html.escape(url[:200])}</code>.</p>" + form
            )
            return
        token = self.platform.mint_registration_token()
        configuration_url = self.platform.issuer + "/openid-configuration"
        tool_url = with_registration_query(url, configuration_url, token)
        in_window = self.get_argument("window", "") == "1"
        self._write_page(_progress(tool_url, url, in_window))

    def _write_page(self, content: str) -> None:
        # a page holding a registration token is not for any cache
        self.set_header("Cache-Control", "no-store")
        self.finish(_PAGE.substitute(platform=html.escape(self.platform.name), content=content))


def registered_tools_html(platform: EmulatedPlatform) -> str:
    """The course page's list of tools registered by URL, the one it launches marked."""
    if not platform.registered_tools:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(tool.client_name)}</td><td><code>{html.escape(tool.client_id)}"
        f"</code></td><td>{html.escape(tool.deployment_id)}</td>"
        f"<td>{'launched by this page' if tool is platform.tool else ''}</td></tr>"
        for tool in platform.registered_tools
    )
    return (
        "<h2>Tools registered by URL</h2><table id='registered-tools'><tr><th>Tool</th>"
        f"<th>Client id</th><th>Deployment</th><th></th></tr>{rows}</table>"
    )


__all__ = [
    "InvalidClientMetadata",
    "OpenIDConfigurationHandler",
    "RegistrationHandler",
    "RegistrationPageHandler",
    "check_registration",
    "openid_configuration",
    "register",
    "registered_tools_html",
    "with_registration_query",
]
