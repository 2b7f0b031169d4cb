"""The platform's side of Deep Linking 2.0: receive, check and keep the tool's links.

The tool answers a deep-linking launch by posting a signed ``LtiDeepLinkingResponse``
(form field ``JWT``) to the ``deep_link_return_url`` of the launch, here
``<issuer>/deep_link_return``. It is checked as a strict platform does: the signature
against the tool's published JWKS (fetched from the hub each time), ``iss`` (the tool's
client id), ``aud`` (this issuer), ``exp``/``iat``, a ``nonce`` used once, the message
type and version, the deployment, the ``data`` of the launch it answers, and the
launch's ``accept_*`` settings. Links that pass are listed on the course page, each
with a button for a resource-link launch to the link's URL with its custom parameters.
"""

from __future__ import annotations

import html
import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

import jwt
from jwt.algorithms import RSAAlgorithm
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ..lti13 import constants as c
from .platform import EmulatedPlatform

CONTENT_ITEMS_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "content_items"
DATA_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "data"
MSG_CLAIM = c.DEEP_LINKING_CLAIM_PREFIX + "msg"


@dataclass
class CreatedLink:
    """A resource link the tool created in the course."""

    title: str
    url: str
    custom: Dict[str, str] = field(default_factory=dict)
    text: str = ""
    line_item: Optional[Dict[str, Any]] = None
    created_by: str = ""


@dataclass
class DeepLinkingRecord:
    """What the platform knows about deep linking: created links, used nonces, refusals."""

    links: List[CreatedLink] = field(default_factory=list)
    nonces: Set[str] = field(default_factory=set)
    errors: List[str] = field(default_factory=list)
    #: Messages (``msg``) the tool sent back, cancel included.
    messages: List[str] = field(default_factory=list)
    #: Where the tool publishes its keys; by default ``platform.tool.keys_url``.
    tool_jwks_url: str = ""
    #: CA bundle for an https tool with a test certificate.
    ca_certs: Optional[str] = None


def record_of(platform: EmulatedPlatform) -> DeepLinkingRecord:
    record = getattr(platform, "deep_linking", None)
    if record is None:
        record = DeepLinkingRecord()
        platform.deep_linking = record  # type: ignore[attr-defined]
    return record


def tool_jwks_url(platform: EmulatedPlatform) -> str:
    """The tool's JWKS URL: configured here, else the one the platform knows the tool by."""
    return record_of(platform).tool_jwks_url or platform.tool.keys_url


def _settings_of(platform: EmulatedPlatform, launch: Any) -> Dict[str, Any]:
    claims = platform.claims_for(launch, nonce="-")  # what that launch sent (bar time)
    return claims.get(c.DEEP_LINKING_SETTINGS_CLAIM) or {}


def _answered_launch(platform: EmulatedPlatform, claims: Dict[str, Any]) -> Any:
    """The deep-linking launch this response answers, found by its echoed ``data``."""
    has_data, data = DATA_CLAIM in claims, claims.get(DATA_CLAIM)
    for launch in reversed(list(platform.launches.values())):
        if launch.message_type != c.DEEP_LINKING_REQUEST:
            continue
        settings = _settings_of(platform, launch)
        if ("data" in settings) == has_data and settings.get("data") == data:
            return launch
    raise ValueError("the response's data does not match any deep linking request we sent")


async def _tool_key(platform: EmulatedPlatform, kid: Any) -> Any:
    record = record_of(platform)
    context = ssl.create_default_context(cafile=record.ca_certs) if record.ca_certs else None
    try:
        response = await AsyncHTTPClient().fetch(
            tool_jwks_url(platform), request_timeout=10, ssl_options=context
        )
    except (HTTPClientError, OSError) as e:
        raise ValueError(f"the tool's JWKS could not be fetched: {e}") from None
    for jwk in json.loads(response.body).get("keys", []):
        if jwk.get("kid") == kid:
            return RSAAlgorithm.from_jwk(json.dumps(jwk))
    raise ValueError(f"no key with kid {kid!r} in the tool's JWKS")


async def check_response(platform: EmulatedPlatform, token: str) -> Dict[str, Any]:
    """The verified claims of a deep linking response; ``ValueError`` names the problem."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise ValueError(f"not a JWT: {e}") from None
    if header.get("alg") != "RS256":
        raise ValueError(f"alg must be RS256, got {header.get('alg')!r}")
    key = await _tool_key(platform, header.get("kid"))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.issuer,
            issuer=platform.tool.client_id,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
            leeway=5,
        )
    except jwt.PyJWTError as e:
        raise ValueError(f"token refused: {e}") from None
    expected = {
        c.MESSAGE_TYPE_CLAIM: "LtiDeepLinkingResponse",
        c.VERSION_CLAIM: c.LTI_VERSION,
        c.DEPLOYMENT_ID_CLAIM: platform.tool.deployment_id,
    }
    for name, value in expected.items():
        if claims.get(name) != value:
            raise ValueError(f"{name} must be {value!r}, got {claims.get(name)!r}")
    record = record_of(platform)
    if claims["nonce"] in record.nonces:
        raise ValueError("nonce already used")
    settings = _settings_of(platform, _answered_launch(platform, claims))
    _check_items(claims.get(CONTENT_ITEMS_CLAIM), settings)
    record.nonces.add(claims["nonce"])
    return claims


def _check_items(items: Any, settings: Dict[str, Any]) -> None:
    if not isinstance(items, list):
        raise ValueError("content_items must be a list")
    if len(items) > 1 and not settings.get("accept_multiple"):
        raise ValueError("several content items, but accept_multiple was not set")
    targets = settings.get("accept_presentation_document_targets") or []
    for item in items:
        if not isinstance(item, dict) or item.get("type") not in settings.get("accept_types", []):
            raise ValueError(f"content item type not accepted: {item!r:.200}")
        if item["type"] == "ltiResourceLink" and not isinstance(item.get("url"), str):
            raise ValueError("an ltiResourceLink needs a url")
        for target in ("window", "iframe", "embed"):
            if target in item and target not in targets:
                raise ValueError(f"presentation target {target!r} not accepted")
        if "lineItem" in item and not settings.get("accept_lineitem"):
            raise ValueError("lineItem sent, but accept_lineitem was not set")
        custom = item.get("custom", {})
        if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
            raise ValueError("custom must map names to strings")


class DeepLinkReturnHandler(web.RequestHandler):
    """``POST /deep_link_return``: the tool's signed answer to a deep-linking launch."""

    def check_xsrf_cookie(self) -> None:  # the tool's form is cross-site by design
        pass

    @property
    def platform(self) -> EmulatedPlatform:
        return self.settings["platform"]

    async def post(self) -> None:
        record = record_of(self.platform)
        try:
            claims = await check_response(self.platform, self.get_body_argument("JWT", ""))
        except ValueError as e:
            record.errors.append(str(e))
            self.set_status(400)
            self.write(_page("Link refused", f"<p id='error'>{html.escape(str(e))}</p>"))
            return
        added = []
        for item in claims.get(CONTENT_ITEMS_CLAIM, []):
            link = CreatedLink(
                title=str(item.get("title") or "Untitled"),
                url=item["url"],
                custom=dict(item.get("custom") or {}),
                text=str(item.get("text") or ""),
                line_item=item.get("lineItem"),
            )
            record.links.append(link)
            added.append(link)
        message = claims.get(MSG_CLAIM)
        if isinstance(message, str):
            record.messages.append(message)
        listed = "".join(f"<li>{html.escape(link.title)}</li>" for link in added)
        self.write(
            _page(
                "Back in the course",
                f"<p id='result'>{len(added)} link(s) added.</p><ul>{listed}</ul>"
                + (f"<p id='msg'>{html.escape(message)}</p>" if isinstance(message, str) else "")
                + "<p><a href='./' target='_top'>Back to the course page</a></p>",
            )
        )


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:system-ui,sans-serif'><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )


def link_launch_fields(platform: EmulatedPlatform, index: str) -> Dict[str, Any]:
    """``Launch`` fields for a resource-link launch of created link number ``index``."""
    links = record_of(platform).links
    if not index.isdigit() or int(index) >= len(links):
        return {}
    link = links[int(index)]
    return {
        "target_link_uri": link.url,
        "claims": {
            c.CUSTOM_CLAIM: {"course_code": "DATA101", **link.custom},
            c.RESOURCE_LINK_CLAIM: {"id": f"deep-link-{index}", "title": link.title},
        },
    }


def created_links_html(platform: EmulatedPlatform) -> str:
    """The course page's list of links the tool created, with launch buttons."""
    links = record_of(platform).links
    if not links:
        return ""
    rows = []
    for index, link in enumerate(links):
        query = html.escape(f"user=student1&role=student&link={index}")
        rows.append(
            f"<tr><td>{html.escape(link.title)}</td>"
            f"<td><a class='button' id='link-{index}-window' target='_blank' rel='opener' "
            f"href='launch?{query}'>launch as student</a></td>"
            f"<td><a class='button' id='link-{index}-iframe' "
            f"href='embed?{query}&amp;storage=1'>embedded (iframe)</a></td></tr>"
        )
    return f"<h2>Links added by the tool</h2><table id='created-links'>{''.join(rows)}</table>"
