"""HTTP handlers: login initiation, launch callback and the tool configuration JSON.

Handlers stay thin: they parse the request, call the validator and the authenticator,
and redirect or write. ``_LTI13Handler._refusals`` is the one place where the errors of
:mod:`ltiauthenticator.lti13.error` become HTTP responses; it also logs each refusal
once, at WARNING, without tokens, cookies or personal data.

Override points kept from the established plugin: login initiation —
:meth:`LTI13LoginInitHandler.authorize_redirect`, ``get_state``, ``get_redirect_uri``,
``set_state_cookie``, ``set_nonce_state_cookie``; callback —
:meth:`LTI13CallbackHandler.decode_and_validate_launch_request` (async), ``check_state``,
``check_nonce``, ``get_next_url``, ``redirect_to_next_url``.
"""

from __future__ import annotations

import html
import json
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional
from urllib.parse import urlencode, urlsplit, urlunsplit

import jupyterhub
from jupyterhub.handlers import BaseHandler
from tornado import web

from ..utils import convert_request_to_dict
from . import _metrics
from . import _platform_storage as storage
from ._embedding import frame_ancestors
from ._registration import PlatformRegistration
from ._state import (
    LAUNCH_COOKIE_MAX_AGE,
    NONCE_STATE_COOKIE_NAME,
    STATE_COOKIE_NAME,
    _deserialize_state,
    _serialize_state,
    digest,
    get_nonce,
    launch_cookie_header,
    make_nonce_state,
    new_state,
    next_url_from_target_link_uri,
    sanitize_next_url,
)
from ._tool_config import tool_configuration
from .constants import DEPLOYMENT_ID_CLAIM, LTI13_LAUNCH_PARAMETERS
from .error import (
    LaunchForbiddenError,
    LTI13Error,
    MethodNotAllowedError,
    ReplayError,
    StateError,
    TokenError,
)

__all__ = [
    "LTI13CallbackHandler",
    "LTI13ConfigHandler",
    "LTI13LoginInitHandler",
    "NONCE_STATE_COOKIE_NAME",
    "STATE_COOKIE_NAME",
    "_deserialize_state",
    "_serialize_state",
    "get_nonce",
    "make_nonce_state",
]

_REASON_IS_A_HEADLINE = int(jupyterhub.__version__.split(".")[0]) >= 5

COOKIES_BLOCKED_HINT = (
    "Your browser did not keep the cookie this login needs. This happens when the "
    "learning platform shows the tool inside a frame and the browser blocks "
    "third-party cookies. Open the tool in a new window (or tab) from your course and "
    "try again."
)


def _clip(value: Any, limit: int = 64) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _LTI13Handler(BaseHandler):
    """What the LTI handlers share: error translation, quiet logs, launch cookies."""

    #: Safe facts about the launch for the refusal log line (never tokens or names).
    _log_context: Dict[str, str]

    def initialize(self) -> None:
        super().initialize()
        self._log_context = {}
        self._launch_cookies: Dict[str, Optional[str]] = {}

    def check_xsrf_cookie(self) -> None:
        """The platform's cross-site form POST cannot carry JupyterHub's ``_xsrf``;
        the state and nonce checks protect these endpoints instead."""

    @property
    def validator(self) -> Any:
        return self.authenticator.validator

    # -- the one translation point ------------------------------------------------------

    @contextmanager
    def _refusals(self, stage: str) -> Iterator[None]:
        counter = _metrics.LOGIN_INITIATIONS if stage == "login" else _metrics.LAUNCHES
        try:
            yield
        except LTI13Error as e:
            counter.labels(outcome="refused", reason=e.reason).inc()
            context = " ".join(f"{k}={_clip(v)}" for k, v in self._log_context.items() if v)
            self.log.warning(
                "LTI 1.3 %s refused: HTTP %d %s: %s%s",
                stage,
                e.status_code,
                e.reason,
                e.message,
                f" [{context}]" if context else "",
            )
            # The message and its advice for the person in front of the browser; JupyterHub
            # shows the HTTPError's message on its error page. JupyterHub 5+ shows the
            # reason as the page's headline (else the whole message would be), while
            # JupyterHub 4 would show the reason *instead of* the message.
            reason = e.title if _REASON_IS_A_HEADLINE else None
            error = web.HTTPError(e.status_code, "%s", e.user_message(), reason=reason)
            html_message = getattr(e, "html_message", "")
            if html_message:  # escaped by whoever built it; it carries the advice
                html_message = f"{html.escape(e.message)}</p><p>{html_message}"
                error.jupyterhub_html_message = html_message  # type: ignore[attr-defined]
                self._lti13_html_message = html_message
            error._lti13_logged = True  # type: ignore[attr-defined]
            raise error from None
        counter.labels(outcome="accepted", reason="").inc()

    @property
    def template_namespace(self) -> Dict[str, Any]:
        namespace = super().template_namespace
        html_message = getattr(self, "_lti13_html_message", "")
        if html_message:
            # JupyterHub 4 renders message_html but does not read jupyterhub_html_message
            namespace["message_html"] = html_message
        return namespace

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if getattr(value, "_lti13_logged", False):
            return  # already logged once, with its reason, by _refusals
        super().log_exception(typ, value, tb)

    def _log(self) -> None:
        # JupyterHub's access log prints the request URI and the redirect target. Here
        # both carry launch parameters (login_hint, lti_message_hint, nonce): log paths.
        uri, location = self.request.uri, self._headers.get("Location")
        self.request.uri = self.request.path
        if location:
            self._headers["Location"] = _without_query(location)
        try:
            super()._log()
        finally:
            self.request.uri = uri
            if location:
                self._headers["Location"] = location

    # -- launch cookies -----------------------------------------------------------------

    def _uses_https(self) -> bool:
        return self.authenticator.get_uri_scheme(self.request) == "https"

    def _launch_cookie_path(self) -> str:
        return self.hub.base_url + "lti13/"

    def _set_launch_cookie(self, name: str, value: str) -> None:
        signed = self.create_signed_value(name, value).decode("ascii")
        self.add_header(
            "Set-Cookie",
            launch_cookie_header(
                name, signed, path=self._launch_cookie_path(), secure=self._uses_https()
            ),
        )

    def _clear_launch_cookie(self, name: str) -> None:
        # Cleared with the attributes it was set with, or a framed browser ignores it.
        self.add_header(
            "Set-Cookie",
            launch_cookie_header(
                name, "", path=self._launch_cookie_path(), secure=self._uses_https(), max_age=0
            ),
        )

    def _get_launch_cookie(self, name: str) -> Optional[str]:
        """The verified value of a launch cookie (signature checked once per request)."""
        if name not in self._launch_cookies:
            value = self.get_secure_cookie(name, max_age_days=LAUNCH_COOKIE_MAX_AGE / 86400)
            self._launch_cookies[name] = value.decode("utf-8", errors="replace") if value else None
        return self._launch_cookies[name]

    def _public_origin(self) -> str:
        return f"{self.authenticator.get_uri_scheme(self.request)}://{self.request.host}"


class _FramableByPlatforms:
    """Launch pages (and their error pages) may be shown inside the platforms' iframes.

    JupyterHub's default ``frame-ancestors 'none'`` would turn an explanation shown in
    an LMS iframe into a blank "refused to connect" frame.
    """

    @property
    def content_security_policy(self) -> str:
        registrations = self.authenticator.registry.registrations  # type: ignore[attr-defined]
        return "; ".join(
            [frame_ancestors(registrations), "report-uri " + self.csp_report_uri]  # type: ignore[attr-defined]
        )


def _relaunch_parameters(args: Dict[str, Any]) -> Dict[str, str]:
    """The login initiation parameters needed to start the same launch again."""
    return {n: args[n] for n in LTI13_LAUNCH_PARAMETERS if isinstance(args.get(n), str) and args[n]}


class LTI13LoginInitHandler(_FramableByPlatforms, _LTI13Handler):
    """Third-party initiated login: remember state and nonce, send the browser to the LMS.

    When the platform offers its client-side storage (``lti_storage_target``), the
    answer is a small page that also stores state and nonce there, for browsers that
    block the cookies (see :mod:`._platform_storage`).
    """

    #: The platform's storage frame, when the login initiation offered one.
    _storage_target = ""

    async def get(self) -> None:
        with self._refusals("login"):
            args = convert_request_to_dict(self.request.arguments)
            self._log_context = {
                "iss": args.get("iss"),
                "client_id": args.get("client_id"),
                "deployment_id": args.get("lti_deployment_id"),
            }
            self.validator.validate_login_request(args)
            registry = self.authenticator.registry
            registration = registry.find(args["iss"], args.get("client_id"))
            if args.get("lti_deployment_id"):
                self.validator.validate_deployment(
                    {DEPLOYMENT_ID_CLAIM: args["lti_deployment_id"]}, registration.deployment_ids
                )
            self._registration = registration
            self._login_args = args
            self._storage_target = storage.storage_target(args.get("lti_storage_target"))

            state = self.get_state()
            nonce_state = make_nonce_state()
            self._nonce_state = nonce_state
            self.set_state_cookie(state)
            self.set_nonce_state_cookie(nonce_state)
            self.authorize_redirect(
                redirect_uri=self.get_redirect_uri(),
                login_hint=args["login_hint"],
                nonce=get_nonce(nonce_state),
                client_id=registry.client_id_for_login(registration, args.get("client_id")),
                state=state,
                lti_message_hint=args.get("lti_message_hint"),
            )

    async def post(self) -> None:
        await self.get()

    def get_state(self) -> str:
        """A fresh state carrying the sanitised next URL and the chosen registration."""
        args = self._login_args
        next_url = args.get("next") or next_url_from_target_link_uri(
            args.get("target_link_uri", ""), self.base_url, self.hub.base_url
        )
        return new_state(
            sanitize_next_url(next_url, self.base_url),
            self._registration.id,
            storage=self._storage_target,
            relaunch=_relaunch_parameters(args),
        )

    def get_redirect_uri(self) -> str:
        """The absolute callback URL (the platform checks it against its registration)."""
        return self._public_origin() + self.authenticator.callback_url(self.hub.base_url)

    def set_state_cookie(self, state: str) -> None:
        self._set_launch_cookie(STATE_COOKIE_NAME, state)

    def set_nonce_state_cookie(self, nonce_state: str) -> None:
        self._set_launch_cookie(NONCE_STATE_COOKIE_NAME, nonce_state)

    def authorize_redirect(
        self,
        redirect_uri: str,
        login_hint: str,
        nonce: str,
        client_id: str,
        state: str,
        lti_message_hint: Optional[str] = None,
    ) -> None:
        """Redirect to the platform's authorization endpoint (Security Framework §5.1.1.2)."""
        params = {
            "response_type": "id_token",
            "scope": "openid",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "login_hint": login_hint,
            "state": state,
            "nonce": nonce,
        }
        if lti_message_hint:
            params["lti_message_hint"] = lti_message_hint
        authorize_url = self._registration.authorize_url
        separator = "&" if urlsplit(authorize_url).query else "?"
        url = authorize_url + separator + urlencode(params)
        if self._storage_target:
            self._write_put_data_page(url, state)
        else:
            self.redirect(url)

    def _write_put_data_page(self, authorization_url: str, state: str) -> None:
        """Store state and nonce state in the platform too, then continue to it."""
        origins = storage.platform_origins(self._registration)
        state_key, nonce_key = storage.storage_keys(_deserialize_state(state)["state_id"])
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.write(
            storage.put_data_page(
                target=self._storage_target,
                origin=origins[0],
                origins=origins,
                items=[(state_key, state), (nonce_key, self._nonce_state)],
                next_url=authorization_url,
            )
        )


class LTI13CallbackHandler(_FramableByPlatforms, _LTI13Handler):
    """The redirect URI: verify the platform's id_token and log the user in.

    State and nonce state come from the launch cookies or, for a launch that used the
    platform's storage and arrives without cookies, from that storage: the first POST is
    then answered with a page that reads them back and posts them here again with a
    ticket for the (parked) launch form.
    """

    #: Where the remembered state and nonce state came from: "cookies" or "storage".
    _remembered_in = "cookies"
    _remembered: Dict[str, Optional[str]]

    async def get(self) -> None:
        with self._refusals("launch"):
            raise MethodNotAllowedError(
                "GET method is not allowed for launch requests.",
                hint="The platform must send the launch as a form POST.",
            )

    async def post(self) -> None:
        with self._refusals("launch"):
            self._args = convert_request_to_dict(self.request.body_arguments)
            if storage.TICKET_FIELD in self._args:
                self._resume_from_platform_storage()
            self.validator.validate_auth_response(self._args)
            if await self._ask_platform_storage():
                return
            self.check_state()
            claims = await self.decode_and_validate_launch_request()
            user = await self.login_user(claims)
            if user is None:
                raise LaunchForbiddenError(
                    "User missing or null: this hub does not admit this user.",
                    hint="Ask the hub administrator for access.",
                )
            self._clear_launch_cookie(STATE_COOKIE_NAME)
            self._clear_launch_cookie(NONCE_STATE_COOKIE_NAME)
            self.redirect_to_next_url(user)

    # -- where state and nonce state were remembered ---------------------------------------

    def _remembered_value(self, cookie_name: str) -> Optional[str]:
        if self._remembered_in == "storage":
            return self._remembered.get(cookie_name)
        return self._get_launch_cookie(cookie_name)

    def _posted_state(self) -> Dict[str, Any]:
        """The posted state, *unverified*: only for choosing what to ask or to offer."""
        state = _deserialize_state(self._args.get("state") or "")
        return state if isinstance(state.get("state_id"), str) else {}

    async def _ask_platform_storage(self) -> bool:
        """Without cookies, a launch that stored its state in the platform asks for it.

        The form is parked (after its token's signature checked out, so only genuine
        launches take a place) and the answer is a page that reads state and nonce state
        back from the platform's storage frame and posts them here with the ticket.
        """
        if self._remembered_in != "cookies" or self._get_launch_cookie(STATE_COOKIE_NAME):
            return False
        posted = self._posted_state()
        target = storage.storage_target(posted.get("storage"))
        if not target:
            return False
        self._state = posted
        registration = self._launch_registration()
        await self._verify_id_token(registration)
        ticket = self.authenticator.parked_launches.park(
            {"id_token": self._args["id_token"], "state": self._args["state"]}
        )
        origins = storage.platform_origins(registration)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.write(
            storage.get_data_page(
                target=target,
                origin=origins[0],
                origins=origins,
                keys=storage.storage_keys(posted["state_id"]),
                ticket=ticket,
                action=self.request.path,
            )
        )
        return True

    def _resume_from_platform_storage(self) -> None:
        """The storage page's POST: the parked form, with what the platform kept."""
        answer = self._args
        parked = self.authenticator.parked_launches.take(answer.get(storage.TICKET_FIELD))
        if parked is None:
            raise StateError(
                "OAuth state missing from cookies, and this launch is not (or no longer) "
                "waiting for the platform's storage.",
                hint="Start the launch again from your course.",
            )
        self._args = parked
        self._remembered_in = "storage"
        if answer.get(storage.ERROR_FIELD):
            self._log_context["storage_error"] = _clip(answer[storage.ERROR_FIELD], 40)
            self._remembered = {}
        else:
            self._remembered = {
                STATE_COOKIE_NAME: answer.get(storage.STATE_FIELD),
                NONCE_STATE_COOKIE_NAME: answer.get(storage.NONCE_STATE_FIELD),
            }

    def _cookies_blocked_error(self, message: str) -> StateError:
        """The refusal for a browser that kept nothing: with a way to start over."""
        error = StateError(message, hint=COOKIES_BLOCKED_HINT)
        error.html_message = self._cookies_blocked_html()  # type: ignore[attr-defined]
        return error

    def _cookies_blocked_html(self) -> str:
        """The readable page: what happened, and a link that starts the launch again.

        The link opens this hub's login initiation, in a new top-level window, with the
        parameters the platform sent for this launch (kept in the state). There the
        cookies are first-party, so the launch goes through; the platform's
        authorization endpoint sees its own first-party session too. The target of the
        link is always this hub's login URL: the parameters are checked there as usual.
        """
        text = (
            "Your browser did not let this page keep the small cookie the login needs. "
            "This happens when the course shows the tool inside a frame and the browser "
            "blocks third-party cookies."
        )
        parts = [f"{html.escape(text)}</p><p>"]
        relaunch = _relaunch_parameters(self._posted_state().get("relaunch") or {})
        if {"iss", "login_hint", "target_link_uri"} <= relaunch.keys():
            url = self.authenticator.login_url(self.hub.base_url) + "?" + urlencode(relaunch)
            parts.append(
                f"<a class='btn btn-primary btn-lg' id='lti13-open-in-new-window' "
                f"href='{html.escape(url, quote=True)}' target='_blank' rel='noopener'>"
                "Open in a new window</a></p><p>"
                "If nothing opens, allow pop-ups for this site, or go back to your course "
                "and open the tool in a new window (or tab) from there."
            )
        else:
            parts.append(
                "Go back to your course and open the tool in a new window (or tab) from there."
            )
        return "".join(parts)

    def check_state(self) -> Dict[str, Any]:
        """The state posted by the platform must be the one this browser's login created.

        Compared with the state cookie, or with what the platform's storage kept for a
        launch that used it (see :mod:`._platform_storage`).
        """
        cookie_state = self._remembered_value(STATE_COOKIE_NAME)
        if not cookie_state:
            if self._remembered_in == "storage":
                raise self._cookies_blocked_error(
                    "OAuth state missing from cookies and from the platform's storage."
                )
            raise self._cookies_blocked_error("OAuth state missing from cookies.")
        url_state = self._args.get("state")
        if not url_state:
            raise StateError("OAuth state missing from URL.")
        if url_state != cookie_state:
            raise StateError(
                "OAuth state mismatch.",
                hint="Start the launch again from your course; do not reuse an old page.",
            )
        state = _deserialize_state(url_state)
        if not isinstance(state.get("state_id"), str):
            raise StateError("OAuth state mismatch: the state is malformed.")
        if not self.authenticator.used_states.use(digest(state["state_id"])):
            raise ReplayError("This launch was already used; start it again from your course.")
        self._state = state
        return state

    def _launch_registration(self) -> PlatformRegistration:
        registry = self.authenticator.registry
        registration = registry.by_id(self._state.get("platform"))
        if registration is None and len(registry.registrations) == 1:
            registration = registry.registrations[0]
        if registration is None:
            raise StateError("The launch's platform is no longer configured on this hub.")
        self._log_context = {
            "iss": registration.issuer,
            "client_id": ",".join(sorted(registration.client_ids)),
        }
        return registration

    async def decode_and_validate_launch_request(self) -> Dict[str, Any]:
        """Verify the id_token against the registration this login started with.

        Async since 2.0 (the platform's keys are fetched without blocking).
        """
        registration = self._launch_registration()
        claims = await self._verify_id_token(registration)
        self._log_context["deployment_id"] = claims.get(DEPLOYMENT_ID_CLAIM)
        self.validator.validate_azp_claim(claims, registration.client_ids)
        self.check_nonce(claims)
        self.validator.validate_id_token(claims)
        self.validator.validate_deployment(claims, registration.deployment_ids)
        return claims

    async def _verify_id_token(self, registration: PlatformRegistration) -> Dict[str, Any]:
        """Signature and registered claims, against this registration's keys and ids only."""
        return await self.validator.verify_and_decode_jwt(
            self._args["id_token"],
            issuer=registration.issuer,
            audience=registration.client_ids,
            jwks_endpoint=registration.jwks_endpoint,
            jwks_algorithms=self.authenticator.jwks_algorithms,
        )

    def check_nonce(self, claims: Dict[str, Any]) -> None:
        """The token's nonce must derive from this browser's nonce state, and be new."""
        nonce_state = self._remembered_value(NONCE_STATE_COOKIE_NAME)
        if not nonce_state:
            raise self._cookies_blocked_error("Missing nonce state cookie.")
        if claims.get("nonce") != get_nonce(nonce_state):
            raise TokenError("OAuth nonce mismatch.", reason="nonce_mismatch")
        if not self.authenticator.used_nonces.use(digest(claims["nonce"])):
            raise ReplayError("This id_token was already used; start the launch again.")

    def get_next_url(self, user: Any = None, default: Optional[str] = None) -> str:
        """The next URL remembered in the state, else JupyterHub's default."""
        next_url = sanitize_next_url(getattr(self, "_state", {}).get("next_url", ""), self.base_url)
        if next_url:
            return next_url
        return super().get_next_url(user, default=default)

    def redirect_to_next_url(self, user: Any) -> None:
        self.redirect(self.get_next_url(user))


class LTI13ConfigHandler(_LTI13Handler):
    """Serves the tool configuration JSON (Canvas installs a developer key from it)."""

    async def get(self) -> None:
        origin = self._public_origin()
        document = tool_configuration(
            title=self.authenticator.tool_name,
            description=self.authenticator.tool_description,
            oidc_initiation_url=origin + self.authenticator.login_url(self.hub.base_url),
            target_link_uri=origin + self.hub.base_url,
            public_jwk_url=origin + self.authenticator.tool_jwks_url(self.hub.base_url),
        )
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps(document, indent=2))


class LTI13JWKSHandler(_LTI13Handler):
    """Serves the tool's public key set, for LMSs that ask for the tool's JWKS URL."""

    async def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=3600")
        self.write(json.dumps(self.authenticator.tool_jwks))
