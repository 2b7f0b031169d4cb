"""LTI13Authenticator: configuration, URLs, handlers, authentication and usernames."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from jupyterhub.auth import Authenticator
from jupyterhub.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from traitlets import (
    Bool,
    Callable,
    CaselessStrEnum,
    Instance,
    Integer,
    Set,
    Unicode,
    Union,
    default,
    observe,
)
from traitlets import Dict as DictTrait
from traitlets import List as ListTrait

from ..utils import get_browser_protocol
from . import _embedding, _roles, _tool_keys, _username
from ._jwks import JWKSCache
from ._platform_storage import ParkedLaunches
from ._registration import PlatformRegistration, PlatformRegistry
from ._state import LAUNCH_COOKIE_MAX_AGE, SingleUseRecord
from .handlers import (
    LTI13CallbackHandler,
    LTI13ConfigHandler,
    LTI13JWKSHandler,
    LTI13LoginInitHandler,
)
from .validator import LTI13LaunchValidator

LTI_SPEC = "https://www.imsglobal.org/spec/lti/v1p3/"
PLATFORM_KEYS = {
    "name",
    "issuer",
    "client_id",
    "authorize_url",
    "jwks_endpoint",
    "deployment_ids",
    "username_key",
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_ROLE_GROUPS = {
    "Instructor": ["{context_label}-instructors"],
    "TeachingAssistant": ["{context_label}-instructors"],
    "Learner": ["{context_label}-learners"],
}


class StringSet(Set):
    """A set of strings that also accepts a single string (``client_id = "abc"``)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = {value}
        return super().validate(obj, value)


class LTI13Authenticator(Authenticator):
    """Log users in from an LMS with an LTI 1.3 launch (OIDC third-party initiated login).

    Register JupyterHub as an external tool in the LMS, then copy the LMS's issuer,
    client id, authorization endpoint and JWKS URL into the traits below. Subclasses may
    override :meth:`authenticate` (it receives the verified launch claims as ``data``)
    and :meth:`get_username`.
    """

    login_service = "LTI 1.3"

    issuer = Unicode(
        "",
        config=True,
        help="""The platform's issuer identifier (``iss``), a case-sensitive https URL.

        The LMS shows it when JupyterHub is registered as a tool, e.g.
        ``https://canvas.instructure.com`` for Canvas cloud. Launches claiming another
        issuer are refused. See the LTI 1.3 specification: """
        + LTI_SPEC,
    )
    client_id = StringSet(
        Unicode(),
        config=True,
        help="""The client id(s) the platform issued for this tool.

        One string or a list. Several client ids are useful when one hub is registered
        more than once in the same LMS (Open edX issues one per course block). The
        id_token's ``aud`` (and ``azp``) must name one of them.
        """,
    )
    authorize_url = Unicode(
        "",
        config=True,
        help="""The platform's OIDC authorization endpoint.

        Login initiation redirects the browser there with ``response_type=id_token``,
        a fresh ``state`` and ``nonce``; e.g. ``https://sso.canvaslms.com/api/lti/authorize_redirect``.
        """,
    )
    jwks_endpoint = Unicode(
        "",
        config=True,
        help="""The platform's JSON Web Key Set URL, whose keys sign the id_tokens.

        Fetched without blocking and cached; see ``JWKSCache`` for the cache's settings.
        """,
    )
    jwks_algorithms = ListTrait(
        Unicode(),
        default_value=["RS256"],
        config=True,
        help="""Signature algorithms accepted on id_tokens.

        LTI 1.3 requires RS256. Asymmetric algorithms only: ``none`` and the HS*
        family are always refused, whatever this lists.
        """,
    )
    username_key = Union(
        [Unicode(), Callable()],
        default_value="email",
        config=True,
        help="""The id_token claim that becomes the JupyterHub username.

        Any top-level claim (``email``, ``given_name``, ``name``, ``sub``…). A key
        starting with ``custom_`` reads the rest of the key inside the LTI custom claim:
        ``custom_uname`` reads ``uname`` from
        ``https://purl.imsglobal.org/spec/lti/claim/custom``. A dotted path reads inside
        a claim, with LTI claims by their short name: ``lis.person_sourcedid``. A
        callable receives the verified claims and returns the username (or ``None``).

        When the claim is missing or empty (e.g. privacy-restricted launches), the opaque
        ``sub`` claim is used; a launch without either is refused. The result then goes
        through JupyterHub's ``normalize_username``.

        Choose a claim that is unique per person: two people sharing a value (the same
        ``given_name``, say) would share one JupyterHub account.

        .. versionchanged:: 2.0
           Dotted paths and callables.
        """,
    )
    uri_scheme = CaselessStrEnum(
        ["auto", "https", "http"],
        default_value="auto",
        config=True,
        help="""Scheme of the URLs the hub builds for the platform (redirect URI, config JSON).

        ``auto`` takes it from the ``X-Scheme`` or ``X-Forwarded-Proto`` header (first
        hop) or the request itself. Set ``https`` when a chain of proxies terminates TLS
        and the detected scheme comes out wrong.
        """,
    )
    tool_name = Unicode(
        "JupyterHub",
        config=True,
        help="Title of the tool in the configuration JSON served at ``/lti13/config``.",
    )
    tool_description = Unicode(
        "Launch interactive Jupyter Notebooks with JupyterHub",
        config=True,
        help="Description of the tool in the configuration JSON served at ``/lti13/config``.",
    )
    deployment_ids = StringSet(
        Unicode(),
        config=True,
        help="""Deployment ids accepted from the platform set by ``issuer`` (empty: any).

        Each installation of the tool in the LMS (an account, a sub-account, a course)
        is a deployment with its own id. With this set, launches from other deployments
        are refused with a message naming their deployment id, so the admin can add it.
        Entries of ``platforms`` have their own ``deployment_ids``.

        .. versionadded:: 2.0
        """,
    )
    platforms = ListTrait(
        DictTrait(),
        config=True,
        help="""More platform registrations, for a hub trusted by several LMSs.

        Each entry is a map with ``issuer``, ``client_id`` (a string or a list),
        ``authorize_url``, ``jwks_endpoint`` and optionally ``deployment_ids`` (a list;
        launches from other deployments are refused), ``username_key`` (overrides
        ``LTI13Authenticator.username_key`` for this platform) and ``name`` (used in logs;
        needed when two entries share an issuer). The single-issuer traits above, when
        set, form one more registration. Plain YAML maps and lists work in Helm values.

        .. versionadded:: 2.0
        """,
    )

    allow_iframe = Bool(
        False,
        config=True,
        help="""Let the LMS show the whole hub inside its iframe (off by default).

        The launch itself works inside an LMS iframe either way. With this on, the hub
        stays usable in that iframe after the launch: JupyterHub's own cookies (login,
        session, ``_xsrf``) become ``SameSite=None; Secure; Partitioned``, and its
        ``Content-Security-Policy`` allows the registered platforms (their issuer and
        authorization endpoint origins) as ``frame-ancestors`` instead of ``'none'``.

        Requires https. Framing a site by another opens it to clickjacking by that
        site: only the registered LMSs may frame the hub. Single-user servers set their
        own cookies and headers; see the "Running inside an LMS iframe" docs page.

        .. versionadded:: 2.0
        """,
    )

    role_groups = DictTrait(
        config=True,
        help="""Rules from LTI roles to JupyterHub groups, used when ``manage_groups`` is on.

        Keys are role keys: context roles by name (``Instructor``, ``Learner``,
        ``TeachingAssistant``…), institution and system roles as ``institution:Faculty``
        or ``system:Administrator``. Full LIS URIs, short names and legacy LTI 1.1 URNs
        all reduce to these keys. Values are group name templates (one or a list) that
        may use ``{context_label}``, ``{context_id}`` and ``{context_title}``; a template
        whose course field is absent from the launch is skipped. Names are lowercased,
        reduced to ``[a-z0-9._~-]`` and bounded by ``max_group_name_length``.

        Default (when ``Authenticator.manage_groups = True`` and this is empty)::

            {"Instructor": ["{context_label}-instructors"],
             "TeachingAssistant": ["{context_label}-instructors"],
             "Learner": ["{context_label}-learners"]}

        .. versionadded:: 2.0
        """,
    )
    admin_roles = Set(
        Unicode(),
        config=True,
        help="""Role keys whose holders become JupyterHub admins, e.g. ``{"system:Administrator"}``.

        Empty by default: nobody becomes admin through the LMS. When set, users without
        such a role are admins only if ``Authenticator.admin_users`` lists them.

        .. versionadded:: 2.0
        """,
    )
    role_scopes = DictTrait(
        config=True,
        help="""JupyterHub 5 scopes granted per role and course, used when ``manage_roles`` is on.

        Maps a role key to scope templates, e.g. to let a course's instructors reach its
        students' servers::

            {"Instructor": ["access:servers!group={context_label}-learners",
                            "read:users!group={context_label}-learners",
                            "list:users!group={context_label}-learners"]}

        Each launch grants one JupyterHub role per matching rule, named
        ``lti-<role>-<context_label>``, with the rendered scopes, plus the default
        ``user`` role. Rules needing a course field the launch lacks are skipped.

        .. versionadded:: 2.0
        """,
    )
    max_group_name_length = Integer(
        64,
        config=True,
        help="""Longest group or role name created from LTI data; longer names get a hash suffix.

        .. versionadded:: 2.0
        """,
    )
    tool_private_key = Unicode(
        "",
        config=True,
        help="""The tool's RSA private key, PEM text (e.g. from a Kubernetes secret).

        Its public half is served at ``/lti13/jwks`` for LMSs that ask for the tool's
        key or JWKS URL (Canvas by config URL, Blackboard, Schoology). When empty, the
        key is read from ``tool_private_key_file``, or generated there on first start.

        .. versionadded:: 2.0
        """,
    )
    tool_private_key_file = Unicode(
        "lti13_tool_key.pem",
        config=True,
        help="""Where the tool's private key is kept when ``tool_private_key`` is empty.

        Relative paths are relative to the hub's working directory. Created on first
        start with owner-only permissions (0600) and reused after restarts.

        .. versionadded:: 2.0
        """,
    )
    tool_extra_public_keys = ListTrait(
        Unicode(),
        config=True,
        help="""Further PEM files (public or private RSA keys) published at ``/lti13/jwks``.

        For key rotation: publish the next key here before switching to it, or keep
        the previous one here until platforms have refreshed their caches.

        .. versionadded:: 2.0
        """,
    )

    validator = Instance(
        LTI13LaunchValidator,
        help="The launch validator; created once with this authenticator as its parent.",
    )
    key_cache = Instance(JWKSCache, help="The platform key cache shared by all launches.")

    @default("key_cache")
    def _default_key_cache(self) -> JWKSCache:
        return JWKSCache(parent=self)

    @default("validator")
    def _default_validator(self) -> LTI13LaunchValidator:
        return LTI13LaunchValidator(parent=self, key_cache=self.key_cache)

    @default("allow_all")
    def _default_allow_all(self) -> bool:
        # Everyone the platform vouches for may log in, unless the admin restricted it.
        return not (self.allowed_users or getattr(self, "allowed_groups", None))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry: Optional[PlatformRegistry] = None
        self._tool_jwks: Optional[Dict[str, Any]] = None
        self.used_states = SingleUseRecord(ttl=LAUNCH_COOKIE_MAX_AGE)
        self.used_nonces = SingleUseRecord(ttl=LAUNCH_COOKIE_MAX_AGE)
        #: Launch forms waiting for the platform's storage (cookie-less launches).
        self.parked_launches = ParkedLaunches()

    @observe("issuer", "client_id", "authorize_url", "jwks_endpoint", "deployment_ids", "platforms")
    def _registrations_changed(self, change: Any) -> None:
        self._registry = None

    # -- registrations and configuration checks --------------------------------------

    @property
    def registry(self) -> PlatformRegistry:
        if self._registry is None:
            self._registry = PlatformRegistry(self._build_registrations())
        return self._registry

    def _build_registrations(self) -> List[PlatformRegistration]:
        registrations = []
        if self.issuer or self.client_id or self.authorize_url or self.jwks_endpoint:
            registrations.append(
                PlatformRegistration(
                    issuer=self.issuer,
                    client_ids=frozenset(self.client_id),
                    authorize_url=self.authorize_url,
                    jwks_endpoint=self.jwks_endpoint,
                    deployment_ids=frozenset(self.deployment_ids),
                )
            )
        for index, entry in enumerate(self.platforms):
            client_ids = entry.get("client_id", [])
            if isinstance(client_ids, str):
                client_ids = [client_ids]
            registrations.append(
                PlatformRegistration(
                    issuer=entry.get("issuer", ""),
                    client_ids=frozenset(str(c) for c in client_ids),
                    authorize_url=entry.get("authorize_url", ""),
                    jwks_endpoint=entry.get("jwks_endpoint", ""),
                    deployment_ids=frozenset(str(d) for d in entry.get("deployment_ids") or []),
                    username_key=entry.get("username_key"),
                    name=entry.get("name")
                    or (f"platforms[{index}]" if self._shares_issuer(entry) else ""),
                    source=f"LTI13Authenticator.platforms[{index}].",
                )
            )
        return registrations

    def _shares_issuer(self, entry: Dict[str, Any]) -> bool:
        issuers = [self.issuer] + [p.get("issuer") for p in self.platforms]
        return issuers.count(entry.get("issuer")) > 1

    def configuration_problems(self) -> List[str]:
        """Mistakes in the configuration, each naming the trait to fix."""
        problems: List[str] = []
        for index, entry in enumerate(self.platforms):
            unknown = sorted(set(entry) - PLATFORM_KEYS)
            if unknown:
                problems.append(
                    f"LTI13Authenticator.platforms[{index}] has unknown key(s) {unknown}; "
                    f"known keys: {sorted(PLATFORM_KEYS)}"
                )
        registrations = self.registry.registrations
        if not registrations:
            problems.append(
                "LTI13Authenticator.issuer is not set (nor LTI13Authenticator.platforms): "
                "no platform can launch into this hub"
            )
        seen: Dict[Tuple[str, str], str] = {}
        for registration in registrations:
            where = registration.source
            for field, value in (
                ("issuer", registration.issuer),
                ("authorize_url", registration.authorize_url),
                ("jwks_endpoint", registration.jwks_endpoint),
            ):
                problems += self._url_problems(f"{where}{field}", value)
            if not registration.client_ids:
                problems.append(f"{where}client_id is not set")
            for client_id in registration.client_ids:
                key = (registration.issuer, client_id)
                if key in seen:
                    problems.append(
                        f"{where}client_id {client_id!r} of issuer {registration.issuer!r} is "
                        f"registered twice (also in {seen[key]})"
                    )
                seen[key] = where.rstrip(".")
        return problems

    @staticmethod
    def _url_problems(trait: str, value: str) -> List[str]:
        if not value:
            return [f"{trait} is not set"]
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.netloc:
            return []
        if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
            return []  # local development and the platform emulator
        return [f"{trait} must be an https URL, got {value!r}"]

    def check_configuration(self) -> None:
        """Raise ``ValueError`` listing every configuration mistake (called at hub start-up)."""
        problems = self.configuration_problems()
        if problems:
            raise ValueError(
                "LTI 1.3 authenticator configuration is incomplete:\n  - " + "\n  - ".join(problems)
            )

    # -- URLs and handlers -------------------------------------------------------------

    def login_url(self, base_url: str) -> str:
        return url_path_join(base_url, "lti13", "oauth_login")

    def callback_url(self, base_url: str) -> str:
        return url_path_join(base_url, "lti13", "oauth_callback")

    def config_json_url(self, base_url: str) -> str:
        return url_path_join(base_url, "lti13", "config")

    def tool_jwks_url(self, base_url: str) -> str:
        return url_path_join(base_url, "lti13", "jwks")

    @property
    def tool_jwks(self) -> Dict[str, Any]:
        """The tool's public key set (loaded, or generated and persisted, once)."""
        if self._tool_jwks is None:
            pem = _tool_keys.load_or_create_private_key(
                self.tool_private_key, self.tool_private_key_file
            )
            self._tool_jwks = _tool_keys.tool_key_set(pem, self.tool_extra_public_keys)
        return self._tool_jwks

    def get_handlers(self, app: Any) -> List[Tuple[str, Any]]:
        # JupyterHub calls this once at start-up: the right moment to refuse bad config,
        # and to load (or create) the tool's key rather than during a request.
        self.check_configuration()
        self.log.info("LTI 1.3 tool key set has %d key(s)", len(self.tool_jwks["keys"]))
        if self.allow_iframe:
            _embedding.allow_hub_in_iframe(app, self.registry.registrations, self.log)
        return [
            (r"/lti13/oauth_login", LTI13LoginInitHandler),
            (r"/lti13/oauth_callback", LTI13CallbackHandler),
            (r"/lti13/config", LTI13ConfigHandler),
            (r"/lti13/jwks", LTI13JWKSHandler),
        ]

    def get_uri_scheme(self, request: HTTPServerRequest) -> str:
        """The scheme of URLs built for the platform: ``uri_scheme`` unless it is ``auto``."""
        if self.uri_scheme != "auto":
            return self.uri_scheme
        return get_browser_protocol(request)

    # -- authentication ----------------------------------------------------------------

    def get_username(self, claims: Dict[str, Any]) -> str:
        """The username for verified ``claims`` (before ``normalize_username``)."""
        registration = self.registry.for_claims(claims)
        key = (registration.username_key if registration else None) or self.username_key
        return _username.username_from_claims(claims, key)

    async def authenticate(self, handler: Any, data: Dict[str, Any]) -> Dict[str, Any]:
        """Turn the verified launch claims (``data``) into a JupyterHub user model.

        With ``manage_groups`` / ``manage_roles`` on, the model also carries the groups
        and roles the rules give this launch; with ``admin_roles``, the admin flag.
        """
        username = self.get_username(data)
        model: Dict[str, Any] = {"name": username, "auth_state": dict(data)}
        if self.manage_groups:
            model["groups"] = _roles.names_for_roles(
                data, self.role_groups or DEFAULT_ROLE_GROUPS, self.max_group_name_length
            )
        if getattr(self, "manage_roles", False):
            model["roles"] = self.roles_for_launch(data, model)
        if self.admin_roles:
            model["admin"] = _roles.has_any_role(data, self.admin_roles) or (
                self.normalize_username(username) in self.admin_users
            )
        return model

    def roles_for_launch(self, claims: Dict[str, Any], model: Dict[str, Any]) -> List[Dict]:
        """JupyterHub roles (name, scopes) for this launch, from ``role_scopes``."""
        fields = _roles.template_fields(claims)
        keys = _roles.role_keys(claims)
        roles: List[Dict[str, Any]] = [{"name": "user"}]
        for key, templates in self.role_scopes.items():
            if key not in keys:
                continue
            scopes = [_roles.render_scope(t, fields, self.max_group_name_length) for t in templates]
            if not scopes or None in scopes:
                continue
            name = _roles.sanitize_name(
                f"lti-{key}-{fields.get('context_label', 'all')}", self.max_group_name_length
            )
            roles.append(
                {"name": name, "scopes": scopes, "description": f"LTI role {key} (from launches)"}
            )
        # JupyterHub syncs the user's roles to exactly this list: keep admins admin
        if model.get("admin") or self.normalize_username(model["name"]) in self.admin_users:
            roles.append({"name": "admin"})
        return roles
