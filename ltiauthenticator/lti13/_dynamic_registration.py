"""LTI Dynamic Registration 1.0, the tool's side: the protocol, not the web pages.

The LMS opens the hub's registration URL with two query parameters:
``openid_configuration`` (where the platform describes itself) and, usually,
``registration_token`` (a bearer token for this one registration). The hub then

1. fetches the platform's OpenID configuration (sending the token, as Canvas needs it),
2. checks it: the ``issuer`` must be on the same host as the configuration URL, and every
   endpoint an https URL (http only on loopback, for local development),
3. posts the tool's registration (an OpenID client registration with the LTI tool
   configuration) to the platform's ``registration_endpoint``, and
4. reads the ``client_id`` (and deployment id) the platform assigned.

The registration URL is public, so whatever the platform says is kept as a *pending*
registration until a hub admin approves it (see :mod:`.registration_handlers`).
Every URL the hub fetches comes from the request, so fetching is guarded: no redirects,
bounded answers, short timeouts, and the registration endpoint must be on the platform's
host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import SplitResult, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ._http import BoundedBody
from .constants import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
from .error import DynamicRegistrationError, PlatformUnreachableError

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CLOSE_MESSAGE = {"subject": "org.imsglobal.lti.close"}

#: Hosts where plain http is accepted (development, the platform emulator).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Largest answer read from the platform (OpenID configuration, registration response).
MAX_ANSWER_BYTES = 256 * 1024
FETCH_TIMEOUT = 10.0
#: OpenID claims a username key can name (other keys are LTI claims, always sent).
OIDC_CLAIMS = frozenset(
    {"email", "name", "given_name", "family_name", "preferred_username", "nickname", "picture"}
)


def _split(url: str) -> Optional[SplitResult]:
    """``url`` split, or None when it cannot be (``http://[::1`` raises in urlsplit)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        return None
    return parts


def host_of(url: str) -> str:
    parts = _split(url)
    return (parts.hostname or "") if parts else ""


def _is_acceptable_url(url: str) -> bool:
    parts = _split(url)
    if parts is None or not parts.netloc or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def origin_of(url: str) -> str:
    parts = _split(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts else ""


def check_configuration_url(url: str) -> str:
    """The ``openid_configuration`` parameter, if it is a URL the hub may fetch."""
    if not url:
        raise DynamicRegistrationError(
            "The registration request has no openid_configuration parameter.",
            reason="missing_openid_configuration",
            hint="Open this page from the LMS's tool registration screen (paste the hub's "
            "registration URL there); it is not meant to be opened directly.",
        )
    if not _is_acceptable_url(url):
        raise DynamicRegistrationError(
            "The platform's openid_configuration URL must be an https URL (plain http only "
            "on this machine's loopback address).",
            reason="insecure_openid_configuration",
            hint="Check the LMS's own address: it must be served over https.",
        )
    return url


@dataclass(frozen=True)
class PlatformConfiguration:
    """What the hub needs from the platform's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    token_endpoint: str = ""
    authorization_server: str = ""
    product_family: str = ""
    product_version: str = ""
    messages_supported: Tuple[str, ...] = ()
    scopes_supported: Tuple[str, ...] = ()
    raw: Dict[str, Any] = field(default_factory=dict, compare=False)

    def supports_message(self, message_type: str) -> bool:
        # A platform that lists nothing is taken to support the core messages.
        return not self.messages_supported or message_type in self.messages_supported


def _required_url(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise DynamicRegistrationError(
            f"The platform's OpenID configuration has no {key}.",
            reason="incomplete_platform_configuration",
            hint="The LMS's dynamic registration support looks incomplete; register the "
            "hub by hand instead (see the hub's installation guide).",
        )
    if not _is_acceptable_url(value):
        raise DynamicRegistrationError(
            f"The platform's {key} must be an https URL.",
            reason="insecure_platform_configuration",
        )
    return value


def _strings(value: Any) -> Tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def read_platform_configuration(config: Any, configuration_url: str) -> PlatformConfiguration:
    """Check the platform's OpenID configuration against the URL it was fetched from."""
    if not isinstance(config, Mapping):
        raise DynamicRegistrationError(
            "The platform's OpenID configuration is not a JSON object.",
            reason="bad_platform_configuration",
        )
    issuer = config.get("issuer")
    if not isinstance(issuer, str) or not _is_acceptable_url(issuer):
        raise DynamicRegistrationError(
            "The platform's OpenID configuration has no usable issuer (an https URL).",
            reason="bad_issuer",
        )
    configuration_host = host_of(configuration_url)
    if host_of(issuer) != configuration_host:
        raise DynamicRegistrationError(
            "The platform's issuer is not on the host its OpenID configuration came from "
            f"({configuration_host}), so the hub cannot trust it.",
            reason="issuer_host_mismatch",
            hint="Register the hub by hand with this LMS instead.",
        )
    registration_endpoint = _required_url(config, "registration_endpoint")
    if host_of(registration_endpoint) != configuration_host:
        raise DynamicRegistrationError(
            "The platform's registration endpoint is on another host than its OpenID "
            "configuration.",
            reason="registration_endpoint_host_mismatch",
        )
    platform = config.get(PLATFORM_CONFIGURATION)
    platform = platform if isinstance(platform, Mapping) else {}
    messages = platform.get("messages_supported")
    token_endpoint = config.get("token_endpoint")
    authorization_server = config.get("authorization_server")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=_required_url(config, "authorization_endpoint"),
        jwks_uri=_required_url(config, "jwks_uri"),
        registration_endpoint=registration_endpoint,
        token_endpoint=_required_url(config, "token_endpoint") if token_endpoint else "",
        authorization_server=authorization_server if isinstance(authorization_server, str) else "",
        product_family=str(platform.get("product_family_code") or "")[:100],
        product_version=str(platform.get("version") or "")[:100],
        messages_supported=tuple(
            m["type"]
            for m in (messages if isinstance(messages, list) else [])
            if isinstance(m, Mapping) and isinstance(m.get("type"), str)
        ),
        scopes_supported=_strings(config.get("scopes_supported")),
        raw=dict(config),
    )


@dataclass(frozen=True)
class ToolDescription:
    """The hub as the platform should know it (its public URLs and what it uses)."""

    client_name: str
    description: str
    login_url: str
    redirect_url: str
    jwks_url: str
    target_link_uri: str
    logo_uri: str = ""
    scopes: Sequence[str] = ()
    claims: Sequence[str] = ("iss", "sub")
    deep_linking: bool = False


def requested_claims(username_key: Any) -> List[str]:
    """The OpenID claims the hub asks for: ``iss``, ``sub`` and the username claim.

    Only what naming users needs: a platform shares fewer personal details when fewer
    are asked for. A callable or an LTI-claim ``username_key`` needs no extra claim.
    """
    claims = ["iss", "sub"]
    if isinstance(username_key, str) and username_key in OIDC_CLAIMS:
        claims.append(username_key)
    return claims


def registration_request(tool: ToolDescription, platform: PlatformConfiguration) -> Dict[str, Any]:
    """The client registration the hub posts to the platform (LTI-DR 1.0 §3.4)."""
    messages: List[Dict[str, Any]] = [{"type": RESOURCE_LINK_REQUEST}]
    if tool.deep_linking and platform.supports_message(DEEP_LINKING_REQUEST):
        messages.append(
            {
                "type": DEEP_LINKING_REQUEST,
                "target_link_uri": tool.target_link_uri,
                "label": f"Add a {tool.client_name} link",
            }
        )
    request: Dict[str, Any] = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.login_url,
        "redirect_uris": [tool.redirect_url],
        "client_name": tool.client_name,
        "jwks_uri": tool.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(tool.scopes),
        TOOL_CONFIGURATION: {
            "domain": (_split(tool.target_link_uri) or urlsplit("")).netloc,
            "description": tool.description,
            "target_link_uri": tool.target_link_uri,
            "claims": list(tool.claims),
            "messages": messages,
        },
    }
    if tool.logo_uri:
        request["logo_uri"] = tool.logo_uri
    if platform.product_family == "canvas":
        # Canvas shares no personal details unless told to (its default is "anonymous").
        request[TOOL_CONFIGURATION][CANVAS_PRIVACY_LEVEL] = canvas_privacy_level(tool.claims)
    return request


CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"


def canvas_privacy_level(claims: Sequence[str]) -> str:
    """The least Canvas privacy level that shares ``claims``."""
    wanted = set(claims) - {"iss", "sub"}
    if not wanted:
        return "anonymous"
    if wanted == {"email"}:
        return "email_only"
    if wanted <= {"name", "given_name", "family_name"}:
        return "name_only"
    return "public"


@dataclass(frozen=True)
class Registered:
    """What the platform assigned: the client id, and the deployment id when it says."""

    client_id: str
    deployment_ids: Tuple[str, ...]


def read_registration_response(answer: Any) -> Registered:
    if not isinstance(answer, Mapping):
        raise DynamicRegistrationError(
            "The platform's answer to the registration is not a JSON object.",
            reason="bad_registration_response",
        )
    client_id = answer.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id.strip():
        raise DynamicRegistrationError(
            "The platform accepted the registration but sent no client_id.",
            reason="bad_registration_response",
        )
    tool_configuration = answer.get(TOOL_CONFIGURATION)
    deployment_id = (
        tool_configuration.get("deployment_id") if isinstance(tool_configuration, Mapping) else None
    )
    deployments = (str(deployment_id),) if isinstance(deployment_id, (str, int)) else ()
    return Registered(client_id=client_id.strip(), deployment_ids=deployments)


class PlatformClient:
    """The two HTTP calls of a registration, guarded: every URL came from a request."""

    def __init__(self, http_client: Optional[AsyncHTTPClient] = None) -> None:
        self._http_client = http_client

    @property
    def http_client(self) -> AsyncHTTPClient:
        if self._http_client is None:  # made on first use, inside the running event loop
            self._http_client = AsyncHTTPClient()
        return self._http_client

    async def platform_configuration(self, url: str, token: str) -> Any:
        return await self._json("GET", url, token, None, what="OpenID configuration")

    async def register(self, endpoint: str, token: str, body: Mapping[str, Any]) -> Any:
        return await self._json("POST", endpoint, token, body, what="registration endpoint")

    async def _json(
        self, method: str, url: str, token: str, body: Optional[Mapping[str, Any]], *, what: str
    ) -> Any:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        received = BoundedBody(MAX_ANSWER_BYTES)
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=json.dumps(body) if body is not None else None,
            connect_timeout=FETCH_TIMEOUT,
            request_timeout=FETCH_TIMEOUT,
            follow_redirects=False,
            decompress_response=False,
            header_callback=received.on_header,
            streaming_callback=received.on_chunk,
        )
        try:
            await self.http_client.fetch(request, raise_error=True)
        except HTTPClientError as e:
            raise self._refusal(what, e.code, bytes(received)) from None
        except Exception as e:  # the network edge: any failure means no answer
            raise PlatformUnreachableError(
                f"The platform's {what} could not be reached ({type(e).__name__}).",
                hint="Check that the hub can reach the LMS over the network.",
            ) from None
        if received.too_large:
            raise PlatformUnreachableError(f"The platform's {what} answer is too large.")
        try:
            return json.loads(bytes(received).decode("utf-8"))
        except ValueError:
            raise PlatformUnreachableError(
                f"The platform's {what} did not answer with JSON."
            ) from None

    @staticmethod
    def _refusal(what: str, code: int, body: bytes) -> DynamicRegistrationError:
        if code == 599:  # tornado's code for timeouts and dropped connections
            return PlatformUnreachableError(
                f"The platform's {what} could not be reached (timeout or connection closed)."
            )
        if code in (401, 403):
            return DynamicRegistrationError(
                f"The platform refused the registration token at its {what} (HTTP {code}): "
                "it is wrong, used or expired.",
                reason="registration_token_refused",
                hint="Start the registration again from the LMS: each attempt gets a new token.",
            )
        return PlatformUnreachableError(
            f"The platform's {what} answered HTTP {code}{_platform_reason(body)}."
        )


def _platform_reason(body: bytes) -> str:
    """The platform's ``error_description``, short and printable, when it sent one."""
    try:
        answer = json.loads(body.decode("utf-8"))
    except ValueError:
        return ""
    text = answer.get("error_description") if isinstance(answer, dict) else None
    if not isinstance(text, str):
        return ""
    text = "".join(ch for ch in text if ch.isprintable())[:200]
    return f": {text}" if text else ""
