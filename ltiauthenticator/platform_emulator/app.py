"""The emulator's web app: course page, launch starter, authorization endpoint, JWKS,
and dynamic registration (``dynamic_registration.py``)."""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any, Dict
from urllib.parse import urlencode

from tornado import web

from .. import _templates
from ..lti13 import constants as c
from . import services as _services
from .deep_linking import DeepLinkReturnHandler, created_links_html, link_launch_fields
from .dynamic_registration import (
    OpenIDConfigurationHandler,
    RegistrationHandler,
    RegistrationPageHandler,
    registered_tools_html,
)
from .platform import EmulatedPlatform, Launch


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "a.button,button{display:inline-block;margin:.25rem;padding:.5rem 1rem;"
        "border:1px solid #246;border-radius:.3rem;background:#eef4fb;color:#123;"
        "text-decoration:none}"
        "iframe{width:100%;height:38rem;border:2px solid #888}</style>"
        f"</head><body>{body}</body></html>"
    )


#: Name of the platform storage frame on pages that show the tool.
STORAGE_FRAME = "post_message_forwarding"


def _storage_frame() -> str:
    return f"<iframe name='{STORAGE_FRAME}' src='storage_frame' title='storage' hidden></iframe>"


def _script_json(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def auto_submit_form(action: str, fields: Dict[str, str]) -> str:
    inputs = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in fields.items()
    )
    return _page(
        "Continuing…",
        f"<form id='lti' method='post' action='{html.escape(action)}'>{inputs}"
        "<noscript><button type='submit'>Continue</button></noscript></form>"
        "<script>document.getElementById('lti').submit()</script>",
    )


class _Handler(web.RequestHandler):
    @property
    def platform(self) -> EmulatedPlatform:
        return self.settings["platform"]

    def check_xsrf_cookie(self) -> None:  # a platform receives cross-site POSTs by design
        pass


class CoursePageHandler(_Handler):
    """A course page with launch buttons, as a learner or instructor sees it in an LMS."""

    def get(self) -> None:
        p = self.platform
        rows = []
        for label, params in (
            ("Launch as student", {"user": "student1", "role": "student"}),
            ("Launch as instructor", {"user": "instructor1", "role": "instructor"}),
            (
                "Deep linking (instructor)",
                {
                    "user": "instructor1",
                    "role": "instructor",
                    "message_type": c.DEEP_LINKING_REQUEST,
                },
            ),
        ):
            query = urlencode(params)
            slug = label.split(" (")[0].lower().replace(" ", "-")
            rows.append(
                f"<tr><td>{html.escape(label)}</td>"
                f"<td><a class='button' id='{slug}-window' target='_blank' rel='opener' "
                f"href='launch?{html.escape(query)}'>in a new window</a></td>"
                f"<td><a class='button' id='{slug}-iframe' "
                f"href='embed?{html.escape(query)}&amp;storage=1'>embedded (iframe)</a></td></tr>"
            )
        body = (
            f"<h1>{html.escape(p.name)} — DATA101: Introduction to Data Science</h1>"
            "<p>This page plays the part of a course in a learning management system. "
            "Each button starts a genuine LTI 1.3 launch into JupyterHub.</p>"
            f"<table>{''.join(rows)}</table>"
            + created_links_html(p)
            + registered_tools_html(p)
            + "<p><a id='add-tool-by-url' href='dynamic_registration'>Add a tool by URL "
            "(dynamic registration)</a></p>"
            + f"<p><small>Issuer {html.escape(p.issuer)} · client id "
            f"{html.escape(p.tool.client_id)} · <a href='jwks'>JWKS</a></small></p>"
            + _services.gradebook_html(_services.services_of(p))
            + _storage_frame()
        )
        self.write(_page(p.name, body))


class EmbedHandler(_Handler):
    """The tool shown inside an iframe, the way most LMSs display it.

    The page also hosts the platform storage frame; the tool's frame is only loaded once
    the storage frame listens, so a tool asking it at once gets an answer.
    """

    def get(self) -> None:
        # ?links=2 shows two tool links side by side, as a course page with two
        # activities does: two launches in flight in one browser at once.
        links = 2 if self.get_argument("links", "1") == "2" else 1
        src = "launch?" + self.request.query
        frames = "".join(
            f"<iframe id='{name}' name='{name}' allow='clipboard-read; clipboard-write'></iframe>"
            for name in ["tool", "tool2"][:links]
        )
        start = "".join(
            f"document.getElementById('{name}').src = {_script_json(src)};"
            for name in ["tool", "tool2"][:links]
        )
        self.write(
            _page(
                "Course tool",
                "<h1>DATA101 — Notebook</h1>"
                + frames
                + _storage_frame()
                + "<script>document.querySelector('iframe[name="
                + STORAGE_FRAME
                + "]')"
                + f".addEventListener('load', function () {{ {start} }});</script>",
            )
        )


_STORAGE_SCRIPT = _templates.read("storage_frame.js", package=__package__)


class StorageFrameHandler(_Handler):
    """The platform storage frame (1EdTech "LTI Client Side postMessages").

    Answers ``lti.capabilities``, ``lti.put_data`` and ``lti.get_data`` with
    ``<subject>.response`` messages, for the registered tool's origin only. The values
    live in this frame's memory: it stays loaded on the LMS page while the tool's frame
    navigates, which is all a launch needs.
    """

    def get(self) -> None:
        config = {"frame": STORAGE_FRAME, "tool_origin": self.platform.tool_origin}
        self.write(
            "<!doctype html><html><head><meta charset='utf-8'><title>storage</title></head>"
            f"<body><script type='application/json' id='config'>{_script_json(config)}</script>"
            f"<script>{_STORAGE_SCRIPT}</script></body></html>"
        )


class StartLaunchHandler(_Handler):
    """Start a launch: record it, then send the browser to the tool's login initiation."""

    def get(self) -> None:
        launch = Launch(
            user=self.get_argument("user", "student1"),
            role=self.get_argument("role", "student"),
            message_type=self.get_argument("message_type", c.RESOURCE_LINK_REQUEST),
            storage_target=STORAGE_FRAME if self.get_argument("storage", "") == "1" else None,
            **link_launch_fields(self.platform, self.get_argument("link", "")),
        )
        _, login_url = self.platform.start_launch(launch)
        if self.get_argument("method", "get").lower() == "post":
            action = login_url.partition("?")[0]
            self.write(auto_submit_form(action, self.platform.login_parameters(launch)))
            return
        self.redirect(login_url)


class AuthorizationHandler(_Handler):
    """The OIDC authorization endpoint: check the request, answer with a signed id_token."""

    def get(self) -> None:
        params = {k: self.get_argument(k) for k in self.request.arguments}
        try:
            launch = self.platform.check_authorization_request(params)
        except ValueError as e:
            self.platform.authorization_errors.append(str(e))
            self.set_status(400)
            self.write(
                _page(
                    "Launch failed",
                    f"<h1>Invalid authentication request</h1><p>{html.escape(str(e))}</p>",
                )
            )
            return
        id_token = self.platform.id_token_for(launch, params["nonce"])
        self.write(
            auto_submit_form(
                params["redirect_uri"], {"id_token": id_token, "state": params["state"]}
            )
        )

    post = get


class JWKSHandler(_Handler):
    """The platform's public keys, with adjustable latency and failures."""

    async def get(self) -> None:
        p = self.platform
        p.jwks_fetches += 1
        if p.jwks_latency:
            await asyncio.sleep(p.jwks_latency)
        if p.jwks_status != 200:
            raise web.HTTPError(p.jwks_status)
        self.set_header("Content-Type", "application/json")
        if p.jwks_cache_control:
            self.set_header("Cache-Control", p.jwks_cache_control)
        self.write(json.dumps(p.jwks()))


class StatsHandler(_Handler):
    """Counters for tests and the benchmark."""

    def get(self) -> None:
        p = self.platform
        self.write(
            {
                "jwks_fetches": p.jwks_fetches,
                "launches": len(p.launches),
                "authorization_errors": len(p.authorization_errors),
                "registrations": len(p.registered_tools),
            }
        )


def make_app(platform: EmulatedPlatform, **settings: Any) -> web.Application:
    _services.services_of(platform)  # grades and roster on: launches carry their claims
    return web.Application(
        [
            (r"/", CoursePageHandler),
            (r"/embed", EmbedHandler),
            (r"/storage_frame", StorageFrameHandler),
            (r"/launch", StartLaunchHandler),
            (r"/authorize", AuthorizationHandler),
            (r"/jwks", JWKSHandler),
            (r"/deep_link_return", DeepLinkReturnHandler),
            (r"/openid-configuration", OpenIDConfigurationHandler),
            (r"/dynamic_registration", RegistrationPageHandler),
            (r"/dynamic_registration/register", RegistrationHandler),
            (r"/_emulator/stats", StatsHandler),
            *_services.ROUTES,
        ],
        platform=platform,
        **settings,
    )
