"""The web side of LTI Dynamic Registration: the registration URL and the admin page.

``/hub/lti13/register`` is opened by an LMS (in an iframe or a new window) with
``openid_configuration`` and ``registration_token``; it registers the hub with the
platform (see :mod:`._dynamic_registration`), keeps the result in the registration store
and answers with a page that sends the LTI-DR close message to the LMS.

The URL is public, so what it stores is only **pending**: ``/hub/lti13/registrations``
(a page, for a logged-in hub admin) and ``/hub/lti13/api/registrations`` (the same for
scripts with an API token) let a hub admin approve (choosing the username namespace),
disable, enable or delete registrations. Launches read the approved ones from memory.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers import BaseHandler

from .. import _templates
from . import _dynamic_registration as dr
from . import _metrics
from ._grades import SERVICE_SCOPES
from ._grades_api import api_error
from ._registration_sources import RegistrationSources
from ._registration_store import (
    DuplicateRegistration,
    RegistrationStoreError,
    StoredRegistration,
    UnknownRegistration,
)
from ._username import UsernameKey
from .error import (
    BusyError,
    DynamicRegistrationError,
    DynamicRegistrationOffError,
    LTI13Error,
    NotAHubAdminError,
    RegistrationAdminError,
    RegistrationConflictError,
    RegistrationStoreUnavailableError,
    UnknownRegistrationError,
)
from .handlers import _LTI13Handler

MAX_URL_LENGTH = 2048
MAX_TOKEN_LENGTH = 8192
#: Registrations talking to platforms at once (each makes two outbound requests).
MAX_IN_FLIGHT = 4

_DONE_PAGE = _templates.read("dynamic_registration_done.html")
_ADMIN_PAGE = _templates.read("registrations_admin.html")


def _sources(handler: BaseHandler) -> RegistrationSources:
    return handler.authenticator.registration_sources


def suggested_prefix(handler: BaseHandler, row: StoredRegistration) -> str:
    """The username namespace to offer for ``row``: none while nobody else uses that."""
    owner = handler.authenticator.registry.namespace_owner(row.username_prefix)
    if row.username_prefix or owner is None or owner.stored_id == row.id:
        return row.username_prefix
    return f"{row.name}-"


def _unique_name_hint(handler: BaseHandler, host: str) -> str:
    """A short name for a new registration that no configured registration uses."""
    taken = {r.slug for r in handler.authenticator.registry.configured}
    hint = host or "platform"
    while hint in taken:
        hint += "-lti"
    return hint


class LTI13RegistrationHandler(_LTI13Handler):
    """The registration URL an LMS admin pastes into the LMS (LTI-DR 1.0)."""

    _in_flight = 0

    @property
    def content_security_policy(self) -> str:
        # The LMS shows this page in an iframe (Canvas) or a window of its own: let the
        # platform that asked frame it, and nobody else. The page changes nothing on a
        # click, so framing by the platform named in the URL is safe.
        origins = ["'self'"]
        url = self.get_argument("openid_configuration", "")
        if len(url) <= MAX_URL_LENGTH and dr._is_acceptable_url(url):
            origins.append(dr.origin_of(url))
        return f"frame-ancestors {' '.join(origins)}; report-uri {self.csp_report_uri}"

    async def get(self) -> None:
        with self._refusals("registration"):
            auth = self.authenticator
            if not auth.dynamic_registration:
                raise DynamicRegistrationOffError(
                    "This hub does not accept dynamic registrations.",
                    hint="Its administrator can turn them on with "
                    "LTI13Authenticator.dynamic_registration = True, or register the hub "
                    "with the LMS by hand.",
                )
            url = self._configuration_url()
            token = self.get_argument("registration_token", "")
            if len(token) > MAX_TOKEN_LENGTH:
                raise DynamicRegistrationError(
                    "The registration_token is too long.", reason="token_too_long"
                )
            if not all(" " < ch < "\x7f" for ch in token):
                # it goes into an Authorization header: no spaces, controls or non-ASCII
                raise DynamicRegistrationError(
                    "The registration_token has characters no token can have.",
                    reason="bad_token_characters",
                )
            self._check_capacity()
            type(self)._in_flight += 1
            try:
                with store_errors():
                    row = await self._register(url, token)
            finally:
                type(self)._in_flight -= 1
        _metrics.REGISTRATIONS.labels(outcome="accepted", reason="").inc()
        self.log.info(
            "LTI 1.3 dynamic registration %r from %s stored (%s)",
            row.name,
            row.issuer,
            row.status,
        )
        self.set_header("Cache-Control", "no-store")
        self.write(await self._render_done(row))

    def _configuration_url(self) -> str:
        url = self.get_argument("openid_configuration", "")
        if len(url) > MAX_URL_LENGTH:
            raise DynamicRegistrationError(
                "The openid_configuration URL is too long.", reason="url_too_long"
            )
        url = dr.check_configuration_url(url)
        allowed = self.authenticator.dynamic_registration_allowed_hosts
        host = dr.host_of(url)
        hub_host = dr.host_of(self._public_origin())
        if host in dr.LOOPBACK_HOSTS and hub_host not in dr.LOOPBACK_HOSTS:
            # Plain http to loopback is for a hub and an LMS on one development machine; a
            # public hub must not be made to probe its own machine's ports.
            raise DynamicRegistrationError(
                "The openid_configuration URL points at the hub's own machine, and this hub "
                "is not a local development hub.",
                reason="loopback_openid_configuration",
                hint="Paste the registration URL into the LMS at its public address.",
            )
        if allowed and host not in allowed:
            raise DynamicRegistrationError(
                f"This hub does not accept registrations from {host}.",
                reason="host_not_allowed",
                hint="The hub's administrator can add the LMS's host to "
                "LTI13Authenticator.dynamic_registration_allowed_hosts.",
            )
        return url

    def _check_capacity(self) -> None:
        pending = sum(1 for row in _sources(self).stored if row.status == "pending")
        if pending >= self.authenticator.dynamic_registration_max_pending:
            raise BusyError(
                f"{pending} registrations are already waiting for a hub admin's approval.",
                reason="too_many_pending",
                hint="Ask the hub administrator to review them on /hub/lti13/registrations, "
                "then register again.",
            )
        if self._in_flight >= MAX_IN_FLIGHT:
            raise BusyError(
                "Other registrations are in progress.",
                reason="registrations_in_flight",
                hint="Try again in a minute.",
            )

    async def _register(self, url: str, token: str) -> StoredRegistration:
        client = dr.PlatformClient()
        platform = dr.read_platform_configuration(
            await client.platform_configuration(url, token), url
        )
        configuration_origin = dr.origin_of(url)
        self._refuse_known(platform.issuer, configuration_origin)
        answer = await client.register(
            platform.registration_endpoint, token, dr.registration_request(self._tool(), platform)
        )
        registered = dr.read_registration_response(answer)
        if self.authenticator.registry.for_claims(
            {"iss": platform.issuer, "aud": registered.client_id}
        ):
            raise RegistrationConflictError(
                "The platform assigned a client id this hub already has a registration for."
            )
        host = dr.host_of(url)
        active = host in self.authenticator.dynamic_registration_auto_approve
        origins = sorted({configuration_origin, dr.origin_of(platform.issuer)})
        try:
            row = await _sources(self).run(
                _sources(self).store.add,
                issuer=platform.issuer,
                client_id=registered.client_id,
                name_hint=_unique_name_hint(self, host),
                deployment_ids=registered.deployment_ids,
                authorize_url=platform.authorization_endpoint,
                jwks_endpoint=platform.jwks_uri,
                token_url=platform.token_endpoint,
                token_audience=platform.authorization_server,
                frame_origins=origins,
                status="pending",
                product_family=platform.product_family,
                product_version=platform.product_version,
                openid_configuration_url=url,
                platform_configuration=platform.raw,
            )
        except DuplicateRegistration as e:
            raise RegistrationConflictError(str(e)) from None
        except ValueError as e:  # e.g. a client id longer than the store keeps
            raise DynamicRegistrationError(
                f"The platform's registration cannot be stored: {e}.",
                reason="unstorable_registration",
            ) from None
        if active:  # approved by configuration: it gets a namespace the same way
            row = await _sources(self).run(
                _sources(self).store.update,
                row.id,
                status="active",
                username_prefix=suggested_prefix(self, row),
            )
        return row

    def _refuse_known(self, issuer: str, configuration_origin: str) -> None:
        for row in _sources(self).stored:
            if row.issuer == issuer and row.configuration_origin == configuration_origin:
                raise RegistrationConflictError(
                    f"This platform is already registered with the hub as {row.name!r} "
                    f"({row.status}).",
                    hint="A hub admin must delete that registration on "
                    "/hub/lti13/registrations before the platform can register again.",
                )

    def _tool(self) -> dr.ToolDescription:
        auth = self.authenticator
        origin = self._public_origin()
        base_url = self.hub.base_url
        username_key: UsernameKey = auth.username_key
        return dr.ToolDescription(
            client_name=auth.tool_name,
            description=auth.tool_description,
            login_url=origin + auth.login_url(base_url),
            redirect_url=origin + auth.callback_url(base_url),
            jwks_url=origin + auth.tool_jwks_url(base_url),
            target_link_uri=origin + base_url,
            logo_uri=auth.tool_logo_url,
            scopes=SERVICE_SCOPES if auth.enable_grades else (),
            claims=dr.requested_claims(username_key),
            deep_linking=bool(auth.deep_linking_roles),
        )

    async def _render_done(self, row: StoredRegistration) -> str:
        return await self.render_page(
            _DONE_PAGE,
            registration=row,
            admin_url=self.authenticator.registrations_admin_url(self.hub.base_url),
            close_message=json.dumps(dr.CLOSE_MESSAGE),
        )


# -- reviewing registrations (the page and the API share this) ---------------------------


def _check_namespace(handler: BaseHandler, row: StoredRegistration, prefix: str) -> None:
    owner = handler.authenticator.registry.namespace_owner(prefix)
    if owner is None or owner.stored_id == row.id:
        return
    if handler.authenticator.shared_username_namespace:
        return
    raise RegistrationAdminError(
        f"The username prefix {prefix!r} is already used by {owner.slug!r}: each platform "
        "needs its own username namespace, or a person on one LMS could log in as "
        "another LMS's user.",
        reason="namespace_taken",
        hint=f"Choose another prefix (e.g. {row.name + '-'!r}), or set "
        "LTI13Authenticator.shared_username_namespace = True if both platforms vouch "
        "for the same people.",
    )


async def review(
    handler: BaseHandler, registration_id: int, action: str, prefix: Optional[str]
) -> Optional[StoredRegistration]:
    """Approve, enable, disable or delete a stored registration; the changed row (or None)."""
    sources = _sources(handler)
    store = sources.store
    if store is None:
        raise DynamicRegistrationOffError(
            "Dynamic registration is off on this hub: there are no stored registrations.",
            hint="Set LTI13Authenticator.dynamic_registration = True to use them.",
        )
    if action not in REVIEW_ACTIONS:
        raise RegistrationAdminError(
            f"Unknown action {action[:40]!r}: use approve, enable, disable or delete.",
            reason="unknown_action",
        )
    with store_errors():
        return await _review(handler, sources, registration_id, action, prefix)


async def _review(
    handler: BaseHandler,
    sources: RegistrationSources,
    registration_id: int,
    action: str,
    prefix: Optional[str],
) -> Optional[StoredRegistration]:
    store = sources.store
    try:
        row = await sources.read(store.get, registration_id)
        if action == "delete":
            await sources.run(store.delete, row.id)
            return None
        if action == "disable":
            return await sources.run(store.update, row.id, status="disabled")
        prefix = (suggested_prefix(handler, row) if prefix is None else prefix).strip()
        _check_namespace(handler, row, prefix)
        return await sources.run(store.update, row.id, status="active", username_prefix=prefix)
    except UnknownRegistration:
        raise UnknownRegistrationError(
            f"There is no registration {registration_id}: it may have been deleted."
        ) from None
    except ValueError as e:  # e.g. a prefix longer than the store keeps
        raise RegistrationAdminError(
            f"The registration was not changed: {e}.", reason="invalid_change"
        ) from None


REVIEW_ACTIONS = ("approve", "enable", "disable", "delete")


def registration_number(text: Optional[str]) -> int:
    """The id in the URL (digits, by the route); one no database holds is no registration."""
    if not text or len(text) > 15:
        return 0  # ids start at 1: "no such registration"
    return int(text)


def registration_as_json(row: StoredRegistration) -> Dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "deployment_ids": list(row.deployment_ids),
        "authorize_url": row.authorize_url,
        "jwks_endpoint": row.jwks_endpoint,
        "token_url": row.token_url,
        "username_prefix": row.username_prefix,
        "product_family": row.product_family,
        "product_version": row.product_version,
        "openid_configuration_url": row.openid_configuration_url,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def _current_rows(handler: BaseHandler) -> List[StoredRegistration]:
    sources = _sources(handler)
    if sources.store is not None:
        with store_errors():
            await sources.refresh()
    return list(sources.stored)


@contextmanager
def store_errors() -> Iterator[None]:
    """The store's database failing is the hub's problem: 503, with the store's reason."""
    try:
        yield
    except RegistrationStoreError as e:
        if isinstance(e, (DuplicateRegistration, UnknownRegistration)):
            raise
        raise RegistrationStoreUnavailableError(
            f"The hub's registration store could not be used: {e}",
            hint="The hub administrator should check the database of "
            "LTI13Authenticator.registration_store_url.",
        ) from None


class LTI13RegistrationAdminHandler(_LTI13Handler):
    """The hub admin's page of stored registrations: approve, disable, enable, delete.

    A page for people logged in to the hub (cookie); scripts use the API handler below.
    """

    def check_xsrf_cookie(self) -> None:
        # Unlike the launch endpoints, these forms come from the hub's own page.
        return BaseHandler.check_xsrf_cookie(self)

    def _require_admin(self) -> Any:
        user = self.current_user
        if user is None:
            raise NotAHubAdminError(
                "Log in to the hub as an admin first.",
                hint="Launch the hub from the LMS as a user listed in "
                "Authenticator.admin_users, then open this page again.",
            )
        if REVIEW_SCOPE not in self.expanded_scopes:
            raise NotAHubAdminError(f"{user.name} is not a hub admin.")
        return user

    async def get(self, registration_id: Optional[str] = None) -> None:
        with self._refusals("registration_admin"):
            self._require_admin()
            rows = await _current_rows(self)
        self.set_header("Cache-Control", "no-store")
        self.write(await self._render(rows))

    async def post(self, registration_id: Optional[str] = None) -> None:
        with self._refusals("registration_admin"):
            admin = self._require_admin()
            action = self.get_body_argument("action", "")
            prefix = self.get_body_argument("username_prefix", None)
            await review(self, registration_number(registration_id), action, prefix)
        self.log.info(
            "LTI 1.3 registration %s: %s by hub admin %s", registration_id, action, admin.name
        )
        self.redirect(self.authenticator.registrations_admin_url(self.hub.base_url), status=303)

    async def _render(self, rows: List[StoredRegistration]) -> str:
        auth = self.authenticator
        return await self.render_page(
            _ADMIN_PAGE,
            hub_look=True,
            registrations=rows,
            suggested={row.id: suggested_prefix(self, row) for row in rows},
            enabled=auth.dynamic_registration,
            registration_url=self._public_origin() + auth.registration_url(self.hub.base_url),
            admin_url=auth.registrations_admin_url(self.hub.base_url),
            xsrf_form_html=self.xsrf_form_html(),
        )


class LTI13RegistrationsAPIHandler(APIHandler):
    """``/hub/lti13/api/registrations[/<id>]``: the same review for scripts (API tokens).

    ``GET`` lists the stored registrations; ``POST /<id>`` with a JSON body
    ``{"action": "approve" | "enable" | "disable" | "delete", "username_prefix": "…"}``
    changes one. Needs the ``admin:users`` scope.
    """

    def _require_scope(self) -> Any:
        caller = self.current_user
        if caller is None or REVIEW_SCOPE not in self.expanded_scopes:
            raise api_error(403, f"Reviewing LTI registrations needs the {REVIEW_SCOPE} scope.")
        return caller

    @contextmanager
    def _as_api_errors(self) -> Iterator[None]:
        try:
            yield
        except LTI13Error as e:
            raise api_error(e.status_code, e.user_message()) from None

    async def get(self, registration_id: Optional[str] = None) -> None:
        self._require_scope()
        rows = await _current_rows(self)
        if registration_id is not None:
            number = registration_number(registration_id)
            rows = [row for row in rows if row.id == number]
            if not rows:
                raise api_error(404, f"There is no registration {registration_id}.")
        self.write({"registrations": [registration_as_json(row) for row in rows]})

    async def post(self, registration_id: Optional[str] = None) -> None:
        caller = self._require_scope()
        body = self.get_json_body() or {}
        if registration_id is None or not isinstance(body, dict):
            raise api_error(400, "POST a JSON object with an action to /registrations/<id>.")
        prefix = body.get("username_prefix")
        with self._as_api_errors():
            row = await review(
                self,
                registration_number(registration_id),
                str(body.get("action", "")),
                prefix if isinstance(prefix, str) else None,
            )
        self.log.info(
            "LTI 1.3 registration %s: %s by %s", registration_id, body.get("action"), caller.name
        )
        self.write({"registration": registration_as_json(row) if row else None})


REVIEW_SCOPE = "admin:users"
