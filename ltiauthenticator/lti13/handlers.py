"""HTTP handlers: login initiation, launch callback, the tool configuration JSON and JWKS.

Handlers stay thin: they parse the request, call the validator and the authenticator,
and redirect or write. :meth:`_LTI13Handler._http_error` is the one place where the
errors of :mod:`ltiauthenticator.lti13.error` become HTTP errors, and
:meth:`_LTI13Handler._refusals` logs each refusal once, at WARNING, without tokens,
cookies or personal data.

Override points kept from the established plugin, with its shapes: login initiation —
:meth:`LTI13LoginInitHandler.authorize_redirect`, ``get_state``, ``get_redirect_uri``,
``set_state_cookie``, ``set_nonce_state_cookie``; callback —
:meth:`LTI13CallbackHandler.decode_and_validate_launch_request` (synchronous: the
platform key is fetched, without blocking, before it runs), ``check_state``,
``check_nonce``, ``get_next_url``, ``redirect_to_next_url``, ``_get_state_from_url``,
``_get_nonce_state_cookie``.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
import unicodedata
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlencode, urlsplit, urlunsplit

import jupyterhub
from jupyterhub.handlers import BaseHandler
from jupyterhub.metrics import prometheus_log_method
from tornado import web
from tornado.log import access_log
from tornado.web import decode_signed_value

from .. import _templates
from ..utils import arguments_with_repeats
from . import _deep_linking, _jwt, _metrics, _roles
from . import _platform_storage as storage
from ._embedding import frame_ancestors
from ._grades import SERVICE_SCOPES
from ._launch import COOKIES, PLATFORM_STORAGE, Launch
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
    launch_cookie_names,
    make_nonce_state,
    mint_state,
    next_url_from_target_link_uri,
    open_state,
    sanitize_next_url,
    state_key,
)
from ._tool_config import tool_configuration
from .constants import (
    DEEP_LINKING_REQUEST,
    DEPLOYMENT_ID_CLAIM,
    LTI13_LAUNCH_PARAMETERS,
    MESSAGE_TYPE_CLAIM,
    TARGET_LINK_URI_CLAIM,
)
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

COOKIES_BLOCKED_HINT = (
    "Your browser did not keep the cookie this login needs. This happens when the "
    "learning platform shows the tool inside a frame and the browser blocks "
    "third-party cookies. Open the tool in a new window (or tab) from your course and "
    "try again."
)
START_AGAIN_HINT = "Start the launch again from your course."

_REASON_IS_A_HEADLINE = int(jupyterhub.__version__.split(".")[0]) >= 5

#: Relaunch parameters larger than this stay out of the state (cookie and URL sizes).
MAX_RELAUNCH_BYTES = 1024

# Without a cookie secret (a handler built by hand in a unit test), states are signed
# with a key that lives as long as this process.
_PROCESS_STATE_KEY = secrets.token_bytes(32)


def _loggable(value: Any, limit: int = 64) -> str:
    """A value safe for one log line: clipped, control characters escaped."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return "".join(
        ch if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029" else repr(ch)[1:-1]
        for ch in text
    )


def _without_query(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _LTI13Handler(BaseHandler):
    """What the LTI handlers share: error translation, quiet logs, launch cookies."""

    #: Safe facts about the launch for the refusal log line (never tokens or names).
    _log_context: Dict[str, Any]

    def initialize(self) -> None:
        super().initialize()
        self._log_context = {}

    def check_xsrf_cookie(self) -> None:
        """The platform's cross-site form POST cannot carry JupyterHub's ``_xsrf``;
        the state and nonce checks protect these endpoints instead."""

    @property
    def validator(self) -> Any:
        return self.authenticator.validator

    # -- the one translation point ------------------------------------------------------

    @staticmethod
    def _http_error(e: LTI13Error) -> web.HTTPError:
        """The HTTP error for a domain error.

        ``str()`` keeps tornado's standard form (``HTTP 400: Bad Request (message)``);
        the advice for the person in front of the browser goes on the error page only.
        """
        error = web.HTTPError(e.status_code, "%s", e.message)
        error.lti13_error = e  # type: ignore[attr-defined]
        error.jupyterhub_message = e.user_message()  # type: ignore[attr-defined]
        html_message = getattr(e, "html_message", "")
        if html_message:  # escaped by whoever built it; it carries the advice
            error.jupyterhub_html_message = (  # type: ignore[attr-defined]
                f"{html.escape(e.message)}</p><p>{html_message}"
            )
        return error

    @contextmanager
    def _refusals(self, stage: str) -> Iterator[None]:
        """Turn domain errors into HTTP errors; log and count every refusal once."""
        try:
            yield
        except LTI13Error as e:
            self._log_refusal(stage, e)
            raise self._http_error(e) from None
        except web.HTTPError as e:
            domain_error = getattr(e, "lti13_error", None)
            if domain_error is not None:
                self._log_refusal(stage, domain_error)
            else:  # raised by an override; tornado logs it
                self._counter(stage).labels(outcome="refused", reason=f"http_{e.status_code}").inc()
            raise

    @staticmethod
    def _counter(stage: str) -> Any:
        if stage.startswith("registration"):  # the registration URL and its review
            return _metrics.REGISTRATIONS
        return _metrics.LOGIN_INITIATIONS if stage == "login" else _metrics.LAUNCHES

    def _log_refusal(self, stage: str, e: LTI13Error) -> None:
        self._counter(stage).labels(outcome="refused", reason=e.reason).inc()
        context = " ".join(f"{k}={_loggable(v)}" for k, v in self._log_context.items() if v)
        self.log.warning(
            "LTI 1.3 %s refused: HTTP %d %s: %s%s%s",
            stage,
            e.status_code,
            e.reason,
            _loggable(e.message, 300),
            f" {_loggable(e.detail, 300)}" if e.detail else "",
            f" [{context}]" if context else "",
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # The exception keeps tornado's standard reason and the plain message (its str()
        # is part of the established interface); the page gets a short title and advice,
        # lent to the exception while the page renders. JupyterHub 5+ shows the reason as
        # the headline and reads ``jupyterhub_message``; JupyterHub 4 shows the reason
        # *instead of* the message, and reads neither: there the advice goes in the message.
        exception = (kwargs.get("exc_info") or (None, None))[1]
        # JupyterHub 4 reads the HTML message from the template namespace only
        self._lti13_html_message = getattr(exception, "jupyterhub_html_message", "")
        domain_error = getattr(exception, "lti13_error", None)
        if domain_error is None:
            return super().write_error(status_code, **kwargs)
        lent = (
            {"reason": domain_error.title}
            if _REASON_IS_A_HEADLINE
            else {"args": (domain_error.user_message(),)}  # its log_message is "%s"
        )
        kept = {name: getattr(exception, name) for name in lent}
        for name, value in lent.items():
            setattr(exception, name, value)
        try:
            return super().write_error(status_code, **kwargs)
        finally:
            for name, value in kept.items():
                setattr(exception, name, value)

    @property
    def template_namespace(self) -> Dict[str, Any]:
        namespace = super().template_namespace
        html_message = getattr(self, "_lti13_html_message", "")
        if html_message:
            # JupyterHub 4 renders message_html but does not read jupyterhub_html_message
            namespace["message_html"] = html_message
        return namespace

    async def render_page(self, template: str, *, hub_look: bool = False, **values: Any) -> str:
        """Render one of the package's page templates with the hub's Jinja environment;
        ``hub_look`` pages extend JupyterHub's ``page.html`` and get its namespace."""
        namespace = {**self.template_namespace, **values} if hub_look else values
        return await self.settings["jinja2_env"].from_string(template).render_async(**namespace)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Tornado's own line prints the whole request URI (login_hint, lti_message_hint)
        # and the request's headers (cookies): log the path only.
        if isinstance(value, web.HTTPError):
            if getattr(value, "lti13_error", None) is None:
                self.log.warning(
                    "%d %s %s: %s",
                    value.status_code,
                    self.request.method,
                    self.request.path,
                    _loggable(value.log_message % value.args if value.log_message else "", 300),
                )
            return
        self.log.error(
            "Uncaught exception in %s %s",
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb),
        )

    def redirect(self, url: str, *args: Any, **kwargs: Any) -> None:
        self.redirected_to = url  # for the access log, which shows it without its query
        super().redirect(url, *args, **kwargs)

    # -- launch cookies and minted states -----------------------------------------------

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

    def _read_launch_cookie(self, name: str) -> Optional[str]:
        """The verified value of one login's cookie, at most ``LAUNCH_COOKIE_MAX_AGE`` old."""
        raw = self.get_cookie(name)
        secret = self.settings.get("cookie_secret")
        if not raw or not secret:
            return None
        value = decode_signed_value(secret, name, raw, max_age_days=LAUNCH_COOKIE_MAX_AGE / 86400)
        return value.decode("utf-8", errors="replace") if value else None

    def _state_key(self) -> bytes:
        secret = self.settings.get("cookie_secret")
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        return state_key(secret) if secret else _PROCESS_STATE_KEY

    def _posted_from_this_hub(self) -> bool:
        """Whether this POST came from a page of this hub (same origin).

        Browsers send ``Origin`` on every form POST, and ``Sec-Fetch-Site`` too; a request
        with neither counts as cross-site.
        """
        origin = self.request.headers.get("Origin")
        if origin is not None:
            return origin.lower() == self._public_origin().lower()
        return self.request.headers.get("Sec-Fetch-Site") == "same-origin"

    def _public_origin(self) -> str:
        """The hub's origin as browsers see it: ``JupyterHub.public_url`` when set.

        Otherwise the request's scheme (``uri_scheme``) and ``Host`` header; a hub
        reachable under several names should set ``public_url``.
        """
        public_url = self.settings.get("public_url")
        if public_url and getattr(public_url, "netloc", ""):
            return f"{public_url.scheme}://{public_url.netloc}"
        return f"{self.authenticator.get_uri_scheme(self.request)}://{self.request.host}"


def quiet_access_log(log_function: Optional[Any]) -> Any:
    """The hub's access log function, made quiet for the LTI endpoints.

    JupyterHub's access log prints the request URI and the redirect target. For the LTI
    endpoints both carry launch parameters (``login_hint``, ``lti_message_hint``,
    ``nonce``, ``state``): those requests are logged with paths only, in JupyterHub's format.
    Installed as the ``log_function`` tornado setting by ``get_handlers``.
    """
    if getattr(log_function, "quiet_for_lti", False):
        return log_function

    def log_request(handler: Any) -> None:
        if not isinstance(handler, _LTI13Handler):
            if log_function is not None:
                log_function(handler)
            return
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        location = getattr(handler, "redirected_to", "") if status in (301, 302, 303) else ""
        access_log.log(
            level,
            "%d %s %s%s (@%s) %.2fms",
            status,
            handler.request.method,
            handler.request.path,
            f" -> {_without_query(location)}" if location else "",
            handler.request.remote_ip,
            1000.0 * handler.request.request_time(),
        )
        prometheus_log_method(handler)  # JupyterHub's per-request metrics, as for any page

    log_request.quiet_for_lti = True  # type: ignore[attr-defined]
    return log_request


class _FramableByPlatforms:
    """Launch pages (and their error pages) may be shown inside the platforms' iframes.

    JupyterHub's default ``frame-ancestors 'none'`` would turn an explanation shown in
    an LMS iframe into a blank "refused to connect" frame.
    """

    #: The launch's registration once known: its platform may frame the pages.
    _framing_registration: Optional[PlatformRegistration] = None

    @property
    def content_security_policy(self) -> str:
        # Configured platforms always; a dynamically registered one once the launch names
        # it (listing thousands of stored platforms would make the header unbounded).
        registry = self.authenticator.registry  # type: ignore[attr-defined]
        registrations = registry.configured
        extra = self._framing_registration
        if extra is not None and extra.stored_id is not None:
            registrations = [*registrations, extra]
        return "; ".join(
            [frame_ancestors(registrations), "report-uri " + self.csp_report_uri]  # type: ignore[attr-defined]
        )

    def _framed_by(self, registration: PlatformRegistration) -> None:
        """Let the launch's own platform frame this response (and its error page)."""
        self._framing_registration = registration
        if registration.stored_id is not None:
            self.set_header("Content-Security-Policy", self.content_security_policy)


def _relaunch_parameters(args: Dict[str, Any]) -> Dict[str, str]:
    """The login initiation parameters needed to start the same launch again."""
    return {n: args[n] for n in LTI13_LAUNCH_PARAMETERS if isinstance(args.get(n), str) and args[n]}


def _small_relaunch_parameters(args: Dict[str, Any]) -> Dict[str, str]:
    """Relaunch parameters when they are small; a long ``lti_message_hint`` would push the
    state (sent in the URL and kept for the browser) past what browsers accept."""
    relaunch = _relaunch_parameters(args)
    return relaunch if len(json.dumps(relaunch)) <= MAX_RELAUNCH_BYTES else {}


class LTI13LoginInitHandler(_FramableByPlatforms, _LTI13Handler):
    """Third-party initiated login: remember state and nonce, send the browser to the LMS.

    When the platform offers its client-side storage (``lti_storage_target``), the
    answer is a small page that also stores state and nonce there, for browsers that
    block the cookies (see :mod:`._platform_storage`).
    """

    #: The platform's storage frame, when the login initiation offered one.
    _storage_target = ""
    _registration: Optional[PlatformRegistration] = None
    _nonce = ""
    _launch_cookies: Tuple[str, str] = (STATE_COOKIE_NAME, NONCE_STATE_COOKIE_NAME)

    def get(self) -> None:
        with self._refusals("login"):
            args = arguments_with_repeats(self.request.arguments)
            self._log_context = {
                "iss": args.get("iss"),
                "client_id": args.get("client_id"),
                "deployment_id": args.get("lti_deployment_id"),
            }
            self.validator.validate_login_request(args)
            registration = self._find_registration(args)
            if args.get("lti_deployment_id"):
                self.validator.validate_deployment(
                    {DEPLOYMENT_ID_CLAIM: args["lti_deployment_id"]}, registration.deployment_ids
                )
            self._registration = registration
            self._framed_by(registration)
            self._login_args = args
            self._storage_target = storage.storage_target(args.get("lti_storage_target"))

            nonce_state = make_nonce_state()
            self._nonce_state = nonce_state
            self._nonce = get_nonce(nonce_state)
            state = self.get_state()
            self.set_state_cookie(state)
            self.set_nonce_state_cookie(nonce_state)
            redirect_uri = self.get_redirect_uri()
            self.log.info(
                "LTI 1.3 login from %s: sending the browser to the platform with redirect_uri %s",
                _loggable(registration.issuer, 200),
                _loggable(redirect_uri, 300),
            )
            self.authorize_redirect(
                redirect_uri=redirect_uri,
                login_hint=args.get("login_hint"),
                nonce=self._nonce,
                client_id=self.authenticator.registry.client_id_for_login(
                    registration, args.get("client_id")
                ),
                state=state,
                lti_message_hint=args.get("lti_message_hint"),
            )
            _metrics.LOGIN_INITIATIONS.labels(outcome="accepted", reason="").inc()

    def post(self) -> None:
        self.get()

    def _find_registration(self, args: Dict[str, Any]) -> PlatformRegistration:
        registry = self.authenticator.registry
        if not args.get("iss") and len(registry.registrations) == 1:
            return registry.registrations[0]  # a validator override that accepts less
        return registry.find(args.get("iss", ""), args.get("client_id"))

    def get_state(self) -> str:
        """A fresh state, minted and signed by this hub.

        It carries the sanitised next URL, the chosen registration and the nonce of
        this login; :func:`._state.open_state` refuses any state the hub did not make.
        """
        args = getattr(self, "_login_args", None) or arguments_with_repeats(self.request.arguments)
        next_url = args.get("next") or next_url_from_target_link_uri(
            args.get("target_link_uri", ""), self.base_url, self.hub.base_url
        )
        registration = self._registration
        return mint_state(
            self._state_key(),
            next_url=sanitize_next_url(next_url, self.base_url),
            registration_id=registration.id if registration else "",
            nonce=self._nonce,
            storage=self._storage_target,
            relaunch=_small_relaunch_parameters(args),
        )

    def get_redirect_uri(self) -> str:
        """The absolute callback URL (the platform checks it against its registration)."""
        return self._public_origin() + self.authenticator.callback_url(self.hub.base_url)

    def set_state_cookie(self, state: str) -> None:
        """Remember (a digest of) the state in a cookie named for this login only."""
        state_id = _deserialize_state(state).get("state_id")
        if isinstance(state_id, str):
            self._launch_cookies = launch_cookie_names(state_id, self._uses_https())
            self._set_launch_cookie(self._launch_cookies[0], digest(state))
        else:  # a subclass's own state format: the established plugin's cookie
            self._launch_cookies = (STATE_COOKIE_NAME, NONCE_STATE_COOKIE_NAME)
            self._set_launch_cookie(STATE_COOKIE_NAME, state)

    def set_nonce_state_cookie(self, nonce_state: str) -> None:
        self._set_launch_cookie(self._launch_cookies[1], nonce_state)

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
        registration = self._registration
        authorize_url = (
            registration.authorize_url if registration else self.authenticator.authorize_url
        )
        separator = "&" if urlsplit(authorize_url).query else "?"
        url = authorize_url + separator + urlencode({k: v for k, v in params.items() if v})
        if self._storage_target:
            self._write_put_data_page(url, state)
        else:
            self.redirect(url)

    def _write_put_data_page(self, authorization_url: str, state: str) -> None:
        """Store state and nonce state in the platform too, then continue to it."""
        origins = storage.platform_origins(self._registration)
        state_key_name, nonce_key_name = storage.storage_keys(_deserialize_state(state)["state_id"])
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.write(
            storage.put_data_page(
                target=self._storage_target,
                origin=origins[0],
                origins=origins,
                items=[(state_key_name, state), (nonce_key_name, self._nonce_state)],
                next_url=authorization_url,
            )
        )


class LTI13CallbackHandler(_FramableByPlatforms, _LTI13Handler):
    """The redirect URI: verify the platform's id_token and log the user in.

    The launch is resolved once into ``launch`` (registration, verified state,
    claims, next URL), which ``authenticate`` and everything after it read.

    State and nonce state come from this login's cookies or, for a launch that used
    the platform's storage and arrives without cookies, from that storage: the first
    POST is then answered with a page (served by this hub) that reads them back and
    posts them here again with a ticket for the parked launch form. Only that page may
    post the ticket back (same-origin check), and only with the values the platform
    kept for that very state.
    """

    #: The resolved launch, once the id_token is verified.
    launch: Optional[Launch] = None
    _remembered_in = COOKIES
    _remembered: Dict[str, Optional[str]]
    _state_fields: Optional[Dict[str, Any]] = None

    async def get(self) -> None:
        with self._refusals("launch"):
            raise MethodNotAllowedError(
                "GET method is not allowed for launch requests",
                hint="The platform must send the launch as a form POST.",
            )

    async def post(self) -> None:
        with self._refusals("launch"):
            self._args = arguments_with_repeats(self.request.arguments)
            if storage.TICKET_FIELD in self._args:
                self._resume_from_platform_storage()
            elif await self._ask_platform_storage():
                return
            await self._prefetch_signing_key()
            claims = self.decode_and_validate_launch_request()
            user = await self.login_user(claims)
            if user is None:
                self._log_context["user"] = self.authenticator.launch_username(
                    claims, self.launch.registration if self.launch else None
                )
                raise self._http_error(
                    LaunchForbiddenError(
                        "User missing or null",
                        hint="This hub does not admit this user; ask the hub administrator "
                        "for access.",
                    )
                )
            self._clear_this_launchs_cookies()
            _metrics.LAUNCHES.labels(outcome="accepted", reason="").inc()
            if self._offers_link_picker(claims):
                await self._write_link_picker(user, claims)
                return
            await self.redirect_to_next_url(user)

    # -- deep linking ---------------------------------------------------------------------

    def _offers_link_picker(self, claims: Dict[str, Any]) -> bool:
        """A deep-linking launch by someone allowed to add links gets the picker; anyone
        else is just logged in, as before (nothing is sent back to the platform)."""
        return claims.get(MESSAGE_TYPE_CLAIM) == DEEP_LINKING_REQUEST and _roles.has_any_role(
            claims, self.authenticator.deep_linking_roles
        )

    async def _write_link_picker(self, user: Any, claims: Dict[str, Any]) -> None:
        """The picker, in this very response: it is allowed in the LMS frame, and works
        without the hub's login cookie (which a framed browser may refuse to keep)."""
        registration = self.launch.registration
        settings = _deep_linking.settings_from_claims(claims)
        _deep_linking.check_return_url(settings)
        token = self.authenticator.deep_linking_sessions.open(
            _deep_linking.PickerContext(
                username=user.name,
                issuer=registration.issuer,
                client_id=_deep_linking.our_client_id(claims, sorted(registration.client_ids)),
                deployment_id=claims.get(DEPLOYMENT_ID_CLAIM, ""),
                settings=settings,
            )
        )
        page = await _render_link_picker(self, token, settings, [])
        self.set_header("Cache-Control", "no-store")
        self.write(page)

    @property
    def _launch_args(self) -> Dict[str, Any]:
        if not hasattr(self, "_args"):
            self._args = arguments_with_repeats(self.request.arguments)
        return self._args

    # -- the key, before the synchronous checks ------------------------------------------

    async def _prefetch_signing_key(self) -> None:
        """Fetch the platform key the id_token names into the shared cache, without blocking.

        Only for a state this hub minted (so a stranger cannot make the hub fetch keys
        for a registration of their choosing); every problem found here is reported by
        the synchronous checks that follow, in their order.
        """
        try:
            fields = self._open_state(self._launch_args.get("state"))
            parsed = _jwt.parse_compact(self._launch_args.get("id_token") or "")
        except LTI13Error:
            return
        registration = self._registration_named_by(fields)
        kid, alg = parsed.header.get("kid"), parsed.header.get("alg")
        if registration is None or not isinstance(kid, str) or not isinstance(alg, str):
            return
        if alg not in self.authenticator.jwks_algorithms:
            return
        try:
            await self.validator.key_cache.get_signing_key(registration.jwks_endpoint, kid, alg)
        except TokenError:
            return  # an unknown kid: verify_and_decode_jwt says so

    # -- the checks, in the established plugin's order -----------------------------------

    def decode_and_validate_launch_request(self) -> Dict[str, Any]:
        """Check the launch form, the state, the id_token and its claims; return the claims.

        Synchronous, as in the established plugin: ``post`` has already put the platform's
        key in the cache. Calls, once each and in this order:
        ``validator.validate_auth_response``, :meth:`check_state`,
        ``validator.verify_and_decode_jwt``, ``validator.validate_id_token``,
        ``validator.validate_azp_claim``, :meth:`check_nonce`. The state and nonce are
        recorded as used only after all of them passed.
        """
        args = self._launch_args
        self.validator.validate_auth_response(args)
        state = self.check_state()
        registration = self._launch_registration(state)
        claims = self.validator.verify_and_decode_jwt(
            encoded_jwt=args["id_token"],
            issuer=registration.issuer,
            audience=registration.client_ids,
            jwks_endpoint=registration.jwks_endpoint,
            jwks_algorithms=self.authenticator.jwks_algorithms,
        )
        self._log_context["deployment_id"] = claims.get(DEPLOYMENT_ID_CLAIM)
        self.validator.validate_id_token(claims)
        self.validator.validate_deployment(claims, registration.deployment_ids)
        self.validator.validate_azp_claim(claims, registration.client_ids)
        self.check_nonce(claims)
        self._record_use(state, claims)
        self.launch = Launch(
            registration=registration,
            state=state,
            remembered_in=self._remembered_in,
            claims=claims,
            next_url=self._next_url(state, claims),
        )
        return claims

    def _open_state(self, state: Any) -> Dict[str, Any]:
        """The fields of a state this hub minted (else StateError); checked once per request."""
        opened = self.__dict__.setdefault("_opened_states", {})
        key = state if isinstance(state, str) else ""
        if key not in opened:
            try:
                opened[key] = open_state(self._state_key(), key)
            except StateError as e:
                opened[key] = e
        if isinstance(opened[key], StateError):
            raise opened[key]
        return dict(opened[key])

    def _get_state_from_url(self) -> str:
        """The state the platform posted back."""
        value = self._launch_args.get("state")
        return value if isinstance(value, str) else ""

    def _state_cookie_names(self, url_state: str) -> Tuple[str, str]:
        state_id = _deserialize_state(url_state).get("state_id") if url_state else None
        if not isinstance(state_id, str):
            return STATE_COOKIE_NAME, NONCE_STATE_COOKIE_NAME
        return launch_cookie_names(state_id, self._uses_https())

    def _remembered_state(self, url_state: str) -> Optional[str]:
        """What this browser remembered of the state: this login's cookie (or, for
        logins started before the per-login names, the established plugin's cookie),
        or what the platform's storage kept."""
        if self._remembered_in == PLATFORM_STORAGE:
            return self._remembered.get(STATE_COOKIE_NAME)
        value = self._read_launch_cookie(self._state_cookie_names(url_state)[0])
        if value:
            return value
        legacy = self.get_secure_cookie(STATE_COOKIE_NAME)
        return legacy.decode("utf-8", errors="replace") if legacy else None

    def check_state(self) -> Dict[str, Any]:
        """The posted state must be one this hub minted for *this* browser's login.

        It must match what the browser remembered (this login's cookie, or what the
        platform's storage kept), and carry this hub's signature and a recent time.
        Returns the state's fields.
        """
        url_state = self._get_state_from_url()
        remembered = self._remembered_state(url_state)
        if not remembered and self._holds_other_launches():
            # The browser kept cookies, just none for this state: another browser's (or
            # an old) launch, not a browser that blocks cookies.
            raise self._http_error(
                StateError(
                    "OAuth state mismatch",
                    hint="Start the launch again from your course; do not reuse an old page.",
                )
            )
        if not remembered:
            if self._remembered_in == PLATFORM_STORAGE:
                raise self._http_error(
                    self._cookies_blocked_error(
                        "OAuth state missing from cookies and from the platform's storage"
                    )
                )
            raise self._http_error(self._cookies_blocked_error("OAuth state missing from cookies"))
        if not url_state:
            raise self._http_error(StateError("OAuth state missing from URL"))
        matches = hmac.compare_digest(remembered.encode(), digest(url_state).encode()) or (
            hmac.compare_digest(remembered.encode(), url_state.encode())
        )
        if not matches:
            raise self._http_error(
                StateError(
                    "OAuth state mismatch",
                    hint="Start the launch again from your course; do not reuse an old page.",
                )
            )
        try:
            fields = self._open_state(url_state)
        except StateError as e:
            raise self._http_error(e) from None
        self._state_fields = fields
        return fields

    def _holds_other_launches(self) -> bool:
        if self._remembered_in != COOKIES:
            return False
        prefixes = tuple(launch_cookie_names("", secure)[0][:-16] for secure in (True, False))
        return any(name.startswith(prefixes) for name in self.request.cookies)

    def _registration_named_by(self, state: Dict[str, Any]) -> Optional[PlatformRegistration]:
        registry = self.authenticator.registry
        registration = registry.by_id(state.get("platform"))
        if registration is None and len(registry.registrations) == 1 and not state.get("platform"):
            registration = registry.registrations[0]
        return registration

    def _launch_registration(self, state: Dict[str, Any]) -> PlatformRegistration:
        registration = self._registration_named_by(state)
        if registration is None:
            raise StateError("The launch's platform is no longer configured on this hub.")
        self._framed_by(registration)
        self._log_context = {
            "iss": registration.issuer,
            "client_id": ",".join(sorted(registration.client_ids)),
        }
        return registration

    def _get_nonce_state_cookie(self) -> Optional[str]:
        """The nonce state this browser's login cookie holds."""
        url_state = self._get_state_from_url()
        value = self._read_launch_cookie(self._state_cookie_names(url_state)[1])
        if value:
            return value
        legacy = self.get_secure_cookie(NONCE_STATE_COOKIE_NAME)
        return legacy.decode("utf-8", errors="replace") if legacy else None

    def check_nonce(self, claims: Dict[str, Any]) -> None:
        """The token's nonce must derive from this login's nonce state (and its state)."""
        if self._remembered_in == PLATFORM_STORAGE:
            nonce_state = self._remembered.get(NONCE_STATE_COOKIE_NAME)
        else:
            nonce_state = self._get_nonce_state_cookie()
        if not nonce_state:
            raise self._http_error(self._cookies_blocked_error("Missing nonce state cookie"))
        nonce = claims.get("nonce")
        committed = (self._state_fields or {}).get("nonce")
        if nonce != get_nonce(nonce_state) or (committed and nonce != committed):
            raise self._http_error(TokenError("OAuth nonce mismatch", reason="nonce_mismatch"))

    def _record_use(self, state: Dict[str, Any], claims: Dict[str, Any]) -> None:
        """Accept each state and nonce once, for as long as the token could still pass."""
        keep_for = self.validator.replay_window(claims)
        authenticator = self.authenticator
        if not authenticator.used_nonces.use(digest(claims["nonce"]), keep_for):
            raise ReplayError("This id_token was already used; start the launch again.")
        if not authenticator.used_states.use(digest(state["state_id"]), keep_for):
            raise ReplayError("This launch was already used; start it again from your course.")

    def _next_url(self, state: Dict[str, Any], claims: Dict[str, Any]) -> str:
        """Where to go after login, as the *signed* ``target_link_uri`` says.

        The state's next URL came from the unsigned login initiation; it is used only
        when the signed claim implies the same place.
        """
        signed = sanitize_next_url(
            next_url_from_target_link_uri(
                claims.get(TARGET_LINK_URI_CLAIM, ""), self.base_url, self.hub.base_url
            ),
            self.base_url,
        )
        return signed

    # -- platform storage (cookie-less launches) ---------------------------------------

    async def _ask_platform_storage(self) -> bool:
        """Without cookies, a launch that stored its state in the platform asks for it.

        Only for a state this hub minted with a storage target. The form is parked
        (after its token's signature and nonce checked out, one place per token) and
        the answer is a page that reads state and nonce state back from the platform's
        storage frame and posts them here with the ticket.
        """
        url_state = self._get_state_from_url()
        if not url_state or self._remembered_state(url_state):
            return False
        try:
            fields = self._open_state(url_state)
        except StateError:
            return False  # check_state refuses it with the usual message
        target = storage.storage_target(fields.get("storage"))
        if not target:
            return False
        self._state_fields = fields
        registration = self._launch_registration(fields)
        self.validator.validate_auth_response(self._args)
        await self._prefetch_signing_key()
        claims = self.validator.verify_and_decode_jwt(
            encoded_jwt=self._args["id_token"],
            issuer=registration.issuer,
            audience=registration.client_ids,
            jwks_endpoint=registration.jwks_endpoint,
            jwks_algorithms=self.authenticator.jwks_algorithms,
        )
        if claims.get("nonce") != fields.get("nonce"):
            raise TokenError("OAuth nonce mismatch", reason="nonce_mismatch")
        if digest(claims["nonce"]) in self.authenticator.used_nonces:
            raise ReplayError("This id_token was already used; start the launch again.")
        ticket = self.authenticator.parked_launches.park(
            digest(claims["nonce"]),
            {"id_token": self._args["id_token"], "state": url_state},
            keep_for=storage.PARKING_TTL,
        )
        origins = storage.platform_origins(registration)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.write(
            storage.get_data_page(
                target=target,
                origin=origins[0],
                origins=origins,
                keys=storage.storage_keys(fields["state_id"]),
                ticket=ticket,
                action=self.request.path,
            )
        )
        return True

    def _require_same_origin(self) -> None:
        """The ticket POST must come from this hub's own storage page.

        A page elsewhere could otherwise make a victim's browser finish a launch parked
        by someone else (login CSRF).
        """
        if self._posted_from_this_hub():
            return
        raise StateError(
            "The launch could only be finished from this hub's own sign-in page.",
            reason="cross_origin_ticket",
            hint=START_AGAIN_HINT,
        )

    def _resume_from_platform_storage(self) -> None:
        """The storage page's POST: the parked form, with what the platform kept for it."""
        self._require_same_origin()
        answer = self._args
        parked = self.authenticator.parked_launches.take(answer.get(storage.TICKET_FIELD))
        if parked is None:
            raise StateError(
                "OAuth state missing from cookies, and this launch is not (or no longer) "
                "waiting for the platform's storage.",
                reason="unknown_ticket",
                hint=START_AGAIN_HINT,
            )
        self._args = parked
        self._remembered_in = PLATFORM_STORAGE
        if answer.get(storage.ERROR_FIELD):
            self._log_context["storage_error"] = answer[storage.ERROR_FIELD]
            self._remembered = {}
            return
        kept_state = answer.get(storage.STATE_FIELD) or ""
        if not hmac.compare_digest(kept_state.encode(), parked["state"].encode()):
            raise StateError(
                "OAuth state mismatch: the platform's storage holds another launch.",
                reason="storage_state_mismatch",
                hint=START_AGAIN_HINT,
            )
        self._remembered = {
            STATE_COOKIE_NAME: kept_state,
            NONCE_STATE_COOKIE_NAME: answer.get(storage.NONCE_STATE_FIELD),
        }

    # -- the page for browsers that kept nothing ----------------------------------------

    def _cookies_blocked_error(self, message: str) -> StateError:
        """The refusal for a browser that kept nothing: with a way to start over."""
        error = StateError(message, hint=COOKIES_BLOCKED_HINT)
        error.html_message = self._cookies_blocked_html()  # type: ignore[attr-defined]
        return error

    def _cookies_blocked_html(self) -> str:
        """The readable page: what happened, and a link that starts the launch again.

        The link opens this hub's login initiation, in a new top-level window, with the
        parameters the platform sent for this launch (kept in the state this hub
        minted; an unsigned state gets no link). There the cookies are first-party, so
        the launch goes through. The link's target is always this hub's login URL.
        """
        text = (
            "Your browser did not let this page keep the small cookie the login needs. "
            "This happens when the course shows the tool inside a frame and the browser "
            "blocks third-party cookies."
        )
        parts = [f"{html.escape(text)}</p><p>"]
        try:
            fields = self._open_state(self._get_state_from_url())
        except StateError:
            fields = {}
        relaunch = _relaunch_parameters(fields.get("relaunch") or {})
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

    # -- after login ----------------------------------------------------------------------

    def _clear_this_launchs_cookies(self) -> None:
        if self._remembered_in != COOKIES:
            return
        for name in self._state_cookie_names(self._get_state_from_url()):
            if self.get_cookie(name):
                self._clear_launch_cookie(name)

    def get_next_url(self, user: Any = None, default: Optional[str] = None) -> str:
        """The launch's next URL (from the signed ``target_link_uri``), else JupyterHub's."""
        if self.launch is not None:
            next_url = self.launch.next_url
        else:  # called outside a launch (a subclass): the state's, as the established plugin
            state = _deserialize_state(self._get_state_from_url())
            next_url = sanitize_next_url(state.get("next_url", ""), self.base_url)
        if next_url:
            return next_url
        return super().get_next_url(user, default=default)

    async def redirect_to_next_url(self, user: Any) -> None:
        self.redirect(self.get_next_url(user))


_PICKER_PAGE = _templates.read("deep_linking_picker.html")
_PICKER_SCRIPT = _templates.read("deep_linking_picker.js")
_RETURN_PAGE = _templates.read("deep_linking_return.html")


async def _render_link_picker(
    handler: _LTI13Handler,
    token: str,
    settings: _deep_linking.DeepLinkingSettings,
    pending: List[Dict[str, Any]],
) -> str:
    """The picker page (JupyterHub's look), for the callback and for "add another"."""
    authenticator = handler.authenticator
    return await handler.render_page(
        _PICKER_PAGE,
        hub_look=True,
        token=token,
        settings=settings,
        pending=pending,
        choices=authenticator.deep_linking_choice_list,
        targets=[t for t in ("window", "iframe") if t in settings.accept_presentation_targets],
        action=authenticator.deep_linking_url(handler.hub.base_url),
        hub_base_url=handler.hub.base_url,
        script=_PICKER_SCRIPT,
    )


class LTI13DeepLinkingHandler(_FramableByPlatforms, _LTI13Handler):
    """The picker's form: sign the ``LtiDeepLinkingResponse`` and send it to the platform.

    No login cookie is needed (the picker runs in the LMS frame, where it may be
    blocked): the form carries the single-use token the callback minted for the
    verified launch. The form must come from this hub's own page (``Origin`` /
    ``Sec-Fetch-Site``), so another site cannot post a token it somehow saw.
    """

    async def get(self) -> None:
        with self._refusals("deep_linking"):
            raise MethodNotAllowedError(
                "The link picker's form must be sent as a POST.", hint=START_AGAIN_HINT
            )

    async def post(self) -> None:
        with self._refusals("deep_linking"):
            self._require_same_origin()
            form = arguments_with_repeats(self.request.arguments)
            repeated = sorted(k for k, v in form.items() if not isinstance(v, str))
            if repeated:
                raise _deep_linking.PickerInputError(f"Fields sent more than once: {repeated}.")
            sessions = self.authenticator.deep_linking_sessions
            context = sessions.peek(form.get("token"))
            if context is None:
                raise StateError(
                    "This link picker has expired or was already used.",
                    reason="deep_linking_token",
                    hint=START_AGAIN_HINT,
                )
            self._log_context = {"iss": context.issuer, "user": context.username}
            action = form.get("action", "create")
            if action not in ("create", "add_more", "send", "cancel"):
                raise _deep_linking.PickerInputError(f"Unknown action {_loggable(action)!r}.")
            if action == "cancel":
                items, message = [], "No link was added."
            elif action == "send":
                items = list(context.pending)
                if not items:
                    raise _deep_linking.PickerInputError("There is no link to send yet.")
                message = f"Added {len(items)} link(s)."
            else:
                if action == "add_more" and not context.settings.accept_multiple:
                    raise _deep_linking.PickerInputError(
                        "This course placement accepts only one link at a time."
                    )
                items = [*context.pending, self._item_from_form(form, context)]
                _deep_linking.check_items(items, context.settings)
                if len(items) > _deep_linking.MAX_ITEMS:
                    raise _deep_linking.PickerInputError(
                        f"At most {_deep_linking.MAX_ITEMS} links at once."
                    )
                message = f"Added {len(items)} link(s)."
                if action == "add_more":  # keep it, and show the picker again
                    context.pending.append(items[-1])
                    page = await _render_link_picker(
                        self, form["token"], context.settings, context.pending
                    )
                    self.set_header("Cache-Control", "no-store")
                    self.write(page)
                    return
            sessions.take(form["token"])  # spent only now: a form with mistakes can be fixed
            claims = _deep_linking.response_claims(
                client_id=context.client_id,
                issuer=context.issuer,
                deployment_id=context.deployment_id,
                settings=context.settings,
                content_items=items,
                msg=message,
            )
            self.log.info(
                "LTI 1.3 deep linking: %s sends %d link(s) to %s",
                context.username,
                len(items),
                _loggable(context.issuer, 200),
            )
            page = await self.render_page(
                _RETURN_PAGE,
                return_url=context.settings.return_url,
                jwt=self.authenticator.tool_signer.sign(claims),
                message=message,
            )
            self.set_header("Cache-Control", "no-store")
            self.write(page)

    def _item_from_form(self, form: Dict[str, str], context: Any) -> Dict[str, Any]:
        return _deep_linking.item_from_form(
            form,
            context.settings,
            self.authenticator.deep_linking_choice_list,
            hub_origin=self._public_origin(),
            hub_base_url=self.hub.base_url,
            base_url=self.base_url,
        )

    def _require_same_origin(self) -> None:
        if self._posted_from_this_hub():
            return
        raise StateError(
            "The link picker's form can only be sent from this hub's own page.",
            reason="cross_origin_picker",
            hint=START_AGAIN_HINT,
        )


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
            scopes=SERVICE_SCOPES if getattr(self.authenticator, "enable_grades", False) else (),
        )
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        # Its URLs depend on the request's Host unless public_url is set: never cache it.
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(document, indent=2))


class LTI13JWKSHandler(_LTI13Handler):
    """Serves the tool's public key set, for LMSs that ask for the tool's JWKS URL."""

    async def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=3600")
        self.write(json.dumps(self.authenticator.tool_jwks))
