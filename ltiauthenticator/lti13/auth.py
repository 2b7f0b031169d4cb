"""LTI13Authenticator: configuration, URLs, handlers, authentication and usernames."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from jupyterhub.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from traitlets import (
    Bool,
    Callable,
    CaselessStrEnum,
    Float,
    Instance,
    Integer,
    Set,
    TraitError,
    Unicode,
    Union,
    default,
    observe,
    validate,
)
from traitlets import Dict as DictTrait
from traitlets import List as ListTrait

from .._access import AdmitLaunchedUsers
from ..utils import get_browser_protocol
from . import _deep_linking, _embedding, _grades, _roles, _service_token, _tool_keys, _username
from ._jwks import JWKSCache
from ._launch import CURRENT_REGISTRATION
from ._platform_storage import ParkedLaunches
from ._registration import (
    PlatformRegistration,
    PlatformRegistry,
    check_names,
    frame_origin_problems,
    normalize_platform_entry,
)
from ._registration_sources import RegistrationSources
from ._registration_store import RegistrationStore
from ._state import LAUNCH_COOKIE_MAX_AGE, SingleUseRecord
from .constants import ASYMMETRIC_ALGORITHMS
from .error import LaunchForbiddenError
from .handlers import (
    LTI13CallbackHandler,
    LTI13ConfigHandler,
    LTI13DeepLinkingHandler,
    LTI13JWKSHandler,
    LTI13LoginInitHandler,
    quiet_access_log,
)
from .registration_handlers import (
    LTI13RegistrationAdminHandler,
    LTI13RegistrationHandler,
    LTI13RegistrationsAPIHandler,
)
from .validator import LTI13LaunchValidator

LTI_SPEC = "https://www.imsglobal.org/spec/lti/v1p3/"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_ROLE_GROUPS = {
    "Instructor": ["{course}-instructors"],
    "TeachingAssistant": ["{course}-instructors"],
    "Learner": ["{course}-learners"],
}
#: Shorter group names cannot hold a course key and a hash suffix.
MIN_GROUP_NAME_LENGTH = 24


class StringSet(Set):
    """A set of strings that also accepts a single string or number (``client_id = 1234``).

    Helm values turn unquoted numeric ids (Canvas client ids) into numbers; a number is
    unambiguous, so it becomes its string.
    """

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = {value}
        if isinstance(value, (list, tuple, set, frozenset)):
            value = {str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value}
        return super().validate(obj, value)


class LTI13Authenticator(AdmitLaunchedUsers):
    """Log users in from an LMS with an LTI 1.3 launch (OIDC third-party initiated login).

    Register JupyterHub as an external tool in the LMS, then copy the LMS's issuer,
    client id, authorization endpoint and JWKS URL into the traits below. Subclasses may
    override :meth:`authenticate` (it receives the verified launch claims as ``data``)
    and :meth:`get_username`.
    """

    login_service = "LTI 1.3"

    #: The handler classes :meth:`get_handlers` serves; subclasses may replace them.
    login_handler = LTI13LoginInitHandler
    callback_handler = LTI13CallbackHandler
    config_handler = LTI13ConfigHandler
    jwks_handler = LTI13JWKSHandler

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

        Default: ``["RS256"]``, which LTI 1.3 requires. Asymmetric algorithms only: a
        list naming ``none`` or the HS* family stops the hub when the configuration loads.
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
    username_prefix = Unicode(
        "",
        config=True,
        help="""Prepended to the usernames launches from the platform set by ``issuer`` assert.

        A username namespace: with several platforms, each must have its own prefix
        (entries of ``platforms`` set ``username_prefix``), or a person on one LMS could
        claim another LMS's user (even an admin) by sharing an email address. The start-up
        check refuses two registrations with the same prefix unless
        ``shared_username_namespace`` is on. Empty by default, so single-platform hubs keep
        their usernames.

        .. versionadded:: 2.0
        """,
    )
    shared_username_namespace = Bool(
        False,
        config=True,
        help="""Let several registrations share one username namespace (the same prefix).

        Only when the platforms vouch for the same people with the same identifiers (two
        LMSs of one university using the same email addresses, say). Names listed in
        ``Authenticator.admin_users`` can then log in only from the first registration of
        the namespace.

        .. versionadded:: 2.0
        """,
    )
    frame_origins = StringSet(
        Unicode(),
        config=True,
        help="""Origins that may show the hub in an iframe for the platform set by ``issuer``.

        Used by ``allow_iframe``: e.g. ``{"https://school.instructure.com"}`` for Canvas
        cloud, whose issuer (``canvas.instructure.com``) anyone can embed from. Entries
        of ``platforms`` have their own ``frame_origins``.

        .. versionadded:: 2.0
        """,
    )
    allowed_roles = Set(
        Unicode(),
        config=True,
        help="""Role keys admitted to the hub, e.g. ``{"Instructor", "TeachingAssistant"}``.

        Empty (the default): any role. Otherwise a launch whose roles include none of
        these keys is refused with HTTP 403 and a message naming the roles it had. Keys
        as in ``role_groups``: context roles by name, ``institution:Faculty``,
        ``system:Administrator``.

        .. versionadded:: 2.0
        """,
    )
    # -- deep linking (kept together: one block) -----------------------------------------
    deep_linking_roles = Set(
        Unicode(),
        default_value={
            "Instructor",
            "TeachingAssistant",
            "ContentDeveloper",
            "Administrator",
            "system:Administrator",
        },
        config=True,
        help="""Role keys that get the link picker on a deep-linking launch.

        When the LMS sends an ``LtiDeepLinkingRequest`` (an instructor adding the hub to
        a course), a launch with one of these roles is answered with a page to choose
        what the new course link opens (the hub, a path in the user's server, an
        nbgitpuller link, or one of ``deep_linking_choices``); the hub then signs an
        ``LtiDeepLinkingResponse`` with the tool key and sends it back to the LMS.
        Anyone else is simply logged in, as for a normal launch, and nothing is sent
        back. Keys as in ``role_groups`` (``Instructor``, ``institution:Faculty``,
        ``system:Administrator``…). Empty: nobody gets the picker.

        .. versionadded:: 2.0
        """,
    )
    deep_linking_choices = ListTrait(
        DictTrait(),
        config=True,
        help="""Links offered in the deep linking picker, ready to choose.

        Each entry has a ``title`` (shown in the picker, and the default title of the
        course link), an optional ``text``, and one destination: ``url`` (a path on
        this hub, e.g. ``/hub/user-redirect/lab``), ``path`` (a path in the user's
        server, e.g. ``lab/tree/week1/intro.ipynb``) or ``repo`` (an nbgitpuller link,
        with optional ``branch``, ``path`` (inside the repository), ``urlpath``
        (nbgitpuller's, instead of ``path``) and ``ui``: ``lab`` or ``notebook``).
        For example::

            c.LTI13Authenticator.deep_linking_choices = [
                {"title": "Week 1", "repo": "https://github.com/org/course",
                 "branch": "main", "path": "week1/intro.ipynb"},
            ]

        .. versionadded:: 2.0
        """,
    )
    deep_linking_sessions = Instance(
        _deep_linking.PickerSessions,
        help="Open link pickers, each under its single-use token (30 minutes).",
    )

    @default("deep_linking_sessions")
    def _default_deep_linking_sessions(self) -> _deep_linking.PickerSessions:
        return _deep_linking.PickerSessions()

    @validate("deep_linking_choices")
    def _validate_deep_linking_choices(self, proposal: Any) -> List[Dict[str, Any]]:
        for number, entry in enumerate(proposal["value"], start=1):
            try:
                _deep_linking.choice_from_config(entry)
            except ValueError as e:
                raise self._config_error(
                    f"LTI13Authenticator.deep_linking_choices entry {number}: {e}"
                ) from None
        return proposal["value"]

    @property
    def deep_linking_choice_list(self) -> List[_deep_linking.Choice]:
        """The configured choices, checked (see ``deep_linking_choices``)."""
        return [_deep_linking.choice_from_config(e) for e in self.deep_linking_choices]

    def deep_linking_url(self, base_url: str) -> str:
        return url_path_join(base_url, "lti13", "deep_linking")

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

        Each entry is a map with ``issuer``, ``client_id`` (a string or a list; numbers
        become strings), ``authorize_url``, ``jwks_endpoint`` and optionally
        ``deployment_ids`` (a list; launches from other deployments are refused),
        ``username_key`` (overrides ``LTI13Authenticator.username_key`` for this
        platform), ``username_prefix`` (this platform's username namespace; required when
        several registrations exist), ``frame_origins`` (for ``allow_iframe``) and
        ``name`` (used in logs and group names; needed when two entries share an issuer).
        The single-issuer traits above, when set, form one more registration. Plain YAML
        maps and lists work in Helm values. Malformed entries stop the hub when the
        configuration loads.

        .. versionadded:: 2.0
        """,
    )

    # -- dynamic registration (LTI-DR 1.0) and the registration store -------------------
    dynamic_registration = Bool(
        False,
        config=True,
        help="""Let LMSs register the hub themselves (LTI Dynamic Registration 1.0).

        With this on, the hub serves its registration URL, ``/hub/lti13/register``: an
        LMS admin pastes it into the LMS (Moodle, Brightspace, Sakai, Canvas), and the LMS
        and the hub exchange the issuer, client id, deployment id and endpoints
        themselves. New registrations are kept in the registration store
        (``registration_store_url``) as **pending** until a hub admin approves them on
        ``/hub/lti13/registrations`` (or their host is in
        ``dynamic_registration_auto_approve``). Turning this off stops both the
        registration URL and launches from stored registrations; the store is kept.

        .. versionadded:: 2.0
        """,
    )
    registration_store_url = Unicode(
        "sqlite:///jupyterhub-lti-registrations.sqlite",
        config=True,
        help="""Database of the registrations made by dynamic registration (SQLAlchemy URL).

        By default an SQLite file in the hub's working directory (next to
        ``jupyterhub.sqlite``, on the hub's volume in zero-to-jupyterhub). Any database
        JupyterHub itself can use works, e.g. ``postgresql://user:pass@host/db``
        (install the driver the URL names); the tables are prefixed ``lti_`` and can live
        in the hub's own database. The schema is created and migrated at start-up.
        Only used when ``dynamic_registration`` is on.

        .. versionadded:: 2.0
        """,
    )
    dynamic_registration_allowed_hosts = Set(
        Unicode(),
        config=True,
        help="""Hosts of the LMSs that may use the registration URL (empty: any host).

        The host of the ``openid_configuration`` URL the LMS sends, e.g.
        ``{"moodle.example.edu"}``. Others are refused before the hub contacts them.

        .. versionadded:: 2.0
        """,
    )
    dynamic_registration_auto_approve = Set(
        Unicode(),
        config=True,
        help="""Hosts whose dynamic registrations are active at once, without approval.

        The host of the ``openid_configuration`` URL, e.g. ``{"moodle.example.edu"}``:
        only for LMSs the hub's admin controls, since anyone who can reach the
        registration URL from such a host could then register.

        .. versionadded:: 2.0
        """,
    )
    dynamic_registration_max_pending = Integer(
        20,
        config=True,
        help="""Most registrations waiting for approval at once; more are refused (HTTP 503).

        The registration URL is public: this bounds what strangers can add to the store.

        .. versionadded:: 2.0
        """,
    )
    registration_refresh_interval = Float(
        10.0,
        config=True,
        help="""Seconds between checks for registrations changed by another process.

        Launches read registrations from memory; the hub reloads them after its own
        changes at once, and notices other processes' changes within this interval.

        .. versionadded:: 2.0
        """,
    )
    tool_logo_url = Unicode(
        "",
        config=True,
        help="""URL of the tool's logo, sent to the LMS at dynamic registration (optional).

        .. versionadded:: 2.0
        """,
    )
    registration_sources = Instance(
        RegistrationSources,
        help="""Where registrations come from: the configuration plus the store.

        Built from the traits above; a subclass may provide its own.
        """,
    )

    allow_iframe = Bool(
        False,
        config=True,
        help="""Let the LMS show the whole hub inside its iframe (off by default).

        The launch itself works inside an LMS iframe either way. With this on, the hub
        stays usable in that iframe after the launch: JupyterHub's own cookies (login,
        session, ``_xsrf``) become ``SameSite=None; Secure; Partitioned``, and its
        ``Content-Security-Policy`` allows each registration's ``frame_origins`` (which
        must be set) as ``frame-ancestors`` instead of ``'none'``. Cookie options the
        admin set in ``JupyterHub.tornado_settings`` are kept, with a warning.

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
        may use ``{course}`` (the course's stable key: the registration's name or issuer
        host, then the LMS's ``context_id``), ``{platform}``, ``{context_id}``,
        ``{context_label}`` and ``{context_title}``; a template whose course field is
        absent from the launch is skipped. Names are lowercased, reduced to
        ``[a-z0-9._~-]`` and bounded by ``max_group_name_length``.

        Key groups on ``{course}``: the label and title are display text that teachers
        edit, that repeats every term and across platforms, so groups named after them
        mix courses.

        Default (when ``Authenticator.manage_groups = True`` and this is empty)::

            {"Instructor": ["{course}-instructors"],
             "TeachingAssistant": ["{course}-instructors"],
             "Learner": ["{course}-learners"]}

        .. versionchanged:: 2.0
           The default templates use ``{course}`` instead of ``{context_label}``.

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

            {"Instructor": ["access:servers!group={course}-learners",
                            "read:users!group={course}-learners",
                            "list:users!group={course}-learners"]}

        Each launch grants one JupyterHub role per matching rule, named
        ``lti-<role>-<course>``, with the rendered scopes, plus the default ``user``
        role. Rules needing a course field the launch lacks are skipped.

        .. versionadded:: 2.0
        """,
    )
    max_group_name_length = Integer(
        64,
        config=True,
        help=f"""Longest group or role name created from LTI data; longer names get a hash suffix.

        At least {MIN_GROUP_NAME_LENGTH}.

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
    # -- grades and roster (LTI Advantage AGS 2.0 / NRPS 2.0) --------------------------
    enable_grades = Bool(
        False,
        config=True,
        help="""Offer grade passback (AGS) and the course roster (NRPS) as hub API services.

        With this on, each launch's service endpoints are kept in the user's
        ``auth_state`` (``Authenticator.enable_auth_state`` must be on to survive
        restarts), ``/lti13/config`` asks for the grade and roster scopes, and grading
        tools holding the ``custom:lti13:grades`` scope (JupyterHub 5; ``admin:users`` on
        JupyterHub 4) can post scores and read rosters through
        ``/hub/lti13/api/grades`` and ``/hub/lti13/api/roster``. See the "Send grades to
        the LMS" how-to.

        .. versionadded:: 2.0
        """,
    )
    token_url = Unicode(
        "",
        config=True,
        help="""The OAuth 2 token endpoint of the platform set by ``issuer``.

        The hub exchanges a client assertion signed by the tool key for service access
        tokens there (grades, roster), e.g. ``https://<moodle>/mod/lti/token.php`` or
        ``https://sso.canvaslms.com/login/oauth2/token``. Entries of ``platforms`` have
        their own ``token_url``.

        .. versionadded:: 2.0
        """,
    )
    token_audience = Unicode(
        "",
        config=True,
        help="""The ``aud`` of service token assertions, when the platform wants one other
        than ``token_url`` (Brightspace shows it as "OAuth2 Audience"). Empty: ``token_url``.
        Entries of ``platforms`` have their own ``token_audience``.

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

    # -- checks when the configuration loads ------------------------------------------

    def _config_error(self, message: str) -> TraitError:
        self.log.critical("LTI 1.3 authenticator configuration error: %s", message)
        return TraitError(message)

    @validate("platforms")
    def _validate_platforms(self, proposal: Any) -> List[Dict[str, Any]]:
        try:
            entries = [normalize_platform_entry(e, i) for i, e in enumerate(proposal["value"])]
            check_names(entries, self.issuer)
        except ValueError as e:
            raise self._config_error(str(e)) from None
        return entries

    @validate("client_id")
    def _validate_client_id(self, proposal: Any) -> Any:
        if any(not c.strip() for c in proposal["value"]):
            raise self._config_error("LTI13Authenticator.client_id must not contain an empty id")
        return proposal["value"]

    @validate("jwks_algorithms")
    def _validate_jwks_algorithms(self, proposal: Any) -> List[str]:
        refused = [a for a in proposal["value"] if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not proposal["value"]:
            raise self._config_error(
                f"LTI13Authenticator.jwks_algorithms may list only {list(ASYMMETRIC_ALGORITHMS)}"
                f" (platforms sign with public-key algorithms); got {proposal['value']!r}"
            )
        return proposal["value"]

    @validate("max_group_name_length")
    def _validate_max_group_name_length(self, proposal: Any) -> int:
        if proposal["value"] < MIN_GROUP_NAME_LENGTH:
            raise self._config_error(
                f"LTI13Authenticator.max_group_name_length must be at least "
                f"{MIN_GROUP_NAME_LENGTH}, got {proposal['value']}"
            )
        return proposal["value"]

    @validate("registration_refresh_interval", "dynamic_registration_max_pending")
    def _validate_positive(self, proposal: Any) -> Any:
        if proposal["value"] <= 0:
            raise self._config_error(
                f"LTI13Authenticator.{proposal['trait'].name} must be more than 0, "
                f"got {proposal['value']}"
            )
        return proposal["value"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tool_jwks: Optional[Dict[str, Any]] = None
        self._tool_signer: Optional[_tool_keys.ToolSigner] = None
        self.used_states = SingleUseRecord(ttl=LAUNCH_COOKIE_MAX_AGE)
        self.used_nonces = SingleUseRecord(ttl=LAUNCH_COOKIE_MAX_AGE)
        #: Launch forms waiting for the platform's storage (cookie-less launches).
        self.parked_launches = ParkedLaunches()
        self._service_client: Optional[_grades.ServiceClient] = None

    @observe(
        "issuer",
        "client_id",
        "authorize_url",
        "jwks_endpoint",
        "deployment_ids",
        "platforms",
        "username_key",
        "username_prefix",
        "frame_origins",
        "token_url",
        "token_audience",
    )
    def _registrations_changed(self, change: Any) -> None:
        sources = self._trait_values.get("registration_sources")
        if sources is not None:
            sources.configuration_changed()

    @observe("dynamic_registration", "registration_store_url")
    def _store_changed(self, change: Any) -> None:
        sources = self._trait_values.pop("registration_sources", None)
        if sources is not None:
            sources.close()

    @default("registration_sources")
    def _default_registration_sources(self) -> RegistrationSources:
        store = (
            RegistrationStore(self.registration_store_url) if self.dynamic_registration else None
        )
        sources = RegistrationSources(self._build_registrations, store, self.log)
        sources.open()  # at start-up (get_handlers): launches then read memory only
        return sources

    # -- registrations and configuration checks --------------------------------------

    @property
    def registry(self) -> PlatformRegistry:
        """The registrations launches are checked against (from memory, never the database)."""
        return self.registration_sources.registry

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
                    username_prefix=self.username_prefix,
                    frame_origins=tuple(sorted(self.frame_origins)),
                    token_url=self.token_url,
                    token_audience=self.token_audience,
                )
            )
        for index, entry in enumerate(self.platforms):
            registrations.append(
                PlatformRegistration(
                    issuer=entry.get("issuer", ""),
                    client_ids=frozenset(entry["client_id"]),
                    authorize_url=entry.get("authorize_url", ""),
                    jwks_endpoint=entry.get("jwks_endpoint", ""),
                    deployment_ids=frozenset(entry["deployment_ids"]),
                    username_key=entry.get("username_key"),
                    name=entry.get("name")
                    or (f"platforms[{index}]" if self._shares_issuer(entry) else ""),
                    username_prefix=entry.get("username_prefix", ""),
                    frame_origins=tuple(entry["frame_origins"]),
                    source=f"LTI13Authenticator.platforms[{index}].",
                    token_url=entry.get("token_url", ""),
                    token_audience=entry.get("token_audience", ""),
                )
            )
        return registrations

    def _shares_issuer(self, entry: Dict[str, Any]) -> bool:
        issuers = [self.issuer] + [p.get("issuer") for p in self.platforms]
        return issuers.count(entry.get("issuer")) > 1

    def configuration_problems(self) -> List[str]:
        """Mistakes in the configuration, each naming the trait to fix."""
        problems: List[str] = []
        registrations = self.registry.configured
        if not registrations and not self.dynamic_registration:
            problems.append(
                "LTI13Authenticator.issuer is not set (nor LTI13Authenticator.platforms, nor "
                "LTI13Authenticator.dynamic_registration): no platform can launch into this hub"
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
            if registration.token_url:
                problems += self._url_problems(f"{where}token_url", registration.token_url)
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
            if self.allow_iframe:
                if not registration.frame_origins:
                    problems.append(
                        f"{where}frame_origins is not set: with allow_iframe, name the "
                        "origins that may frame the hub (e.g. https://school.instructure.com)"
                    )
                problems += frame_origin_problems(registration.frame_origins, where)
        return problems + self._namespace_problems(registrations)

    def _namespace_problems(self, registrations: List[PlatformRegistration]) -> List[str]:
        """Two registrations sharing a username namespace, unless that is the choice made."""
        problems = []
        by_prefix: Dict[str, PlatformRegistration] = {}
        by_slug: Dict[str, PlatformRegistration] = {}
        for registration in registrations:
            first = by_prefix.setdefault(registration.username_prefix, registration)
            if first is not registration and not self.shared_username_namespace:
                problems.append(
                    f"{registration.source}username_prefix is {registration.username_prefix!r}"
                    f", as for {first.source.rstrip('.')}: with several platforms each needs "
                    "its own username namespace (or set "
                    "LTI13Authenticator.shared_username_namespace = True)"
                )
            first = by_slug.setdefault(registration.slug, registration)
            if first is not registration:
                problems.append(
                    f"{registration.source}name: the platform's short name {registration.slug!r}"
                    f" is also {first.source.rstrip('.')}'s (group names would mix): give it a "
                    "distinct name"
                )
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
            for problem in problems:
                self.log.critical("LTI 1.3 authenticator configuration error: %s", problem)
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

    @observe("tool_private_key", "tool_private_key_file", "tool_extra_public_keys")
    def _tool_keys_changed(self, change: Any) -> None:
        self._tool_jwks = None
        self._tool_signer = None

    def _load_tool_keys(self) -> None:
        pem = _tool_keys.load_or_create_private_key(
            self.tool_private_key, self.tool_private_key_file, self.log
        )
        signer = _tool_keys.ToolSigner(pem)
        self._tool_jwks = _tool_keys.tool_key_set(signer, self.tool_extra_public_keys)
        self._tool_signer = signer

    @property
    def tool_jwks(self) -> Dict[str, Any]:
        """The tool's public key set (loaded, or generated and persisted, once)."""
        if self._tool_jwks is None:
            self._load_tool_keys()
        return self._tool_jwks

    @property
    def tool_signer(self) -> _tool_keys.ToolSigner:
        """Signs the tool's own JWTs with the current tool key (the first of ``tool_jwks``)."""
        if self._tool_signer is None:
            self._load_tool_keys()
        return self._tool_signer

    def get_handlers(self, app: Any) -> List[Tuple[str, Any]]:
        # JupyterHub calls this once at start-up: the right moment to refuse bad config,
        # and to load (or create) the tool's key rather than during a request.
        self.check_configuration()
        self.log.info("LTI 1.3 tool key set has %d key(s)", len(self.tool_jwks["keys"]))
        if self.allow_iframe:
            _embedding.allow_hub_in_iframe(app, self.registry.registrations, self.log)
        if self.dynamic_registration:
            self._watch_the_store()
        settings = getattr(app, "tornado_settings", None)
        if settings is not None:
            settings["log_function"] = quiet_access_log(settings.get("log_function"))
        return [
            (self.login_url(""), self.login_handler),
            (self.callback_url(""), self.callback_handler),
            (self.config_json_url(""), self.config_handler),
            (self.tool_jwks_url(""), self.jwks_handler),
            (self.deep_linking_url(""), LTI13DeepLinkingHandler),
            (self.registration_url(""), LTI13RegistrationHandler),
            (self.registrations_admin_url("") + r"(?:/(\d+))?", LTI13RegistrationAdminHandler),
            (r"/lti13/api/registrations(?:/(\d+))?", LTI13RegistrationsAPIHandler),
        ] + self._grades_handlers()

    def registration_url(self, base_url: str) -> str:
        """The URL an LMS admin pastes into the LMS (dynamic registration)."""
        return url_path_join(base_url, "lti13", "register")

    def registrations_admin_url(self, base_url: str) -> str:
        """The hub admin's page of dynamic registrations."""
        return url_path_join(base_url, "lti13", "registrations")

    def _watch_the_store(self) -> None:
        """Notice registrations another process changed (e.g. a second hub replica)."""
        from tornado.ioloop import PeriodicCallback

        async def refresh() -> None:
            try:
                if await self.registration_sources.refresh():
                    self.log.info("LTI 1.3: stored registrations changed; reloaded")
            except Exception as e:  # a database hiccup must not stop the hub
                self.log.warning("LTI 1.3: could not check the registration store: %s", e)

        PeriodicCallback(refresh, self.registration_refresh_interval * 1000).start()

    def _grades_handlers(self) -> List[Tuple[str, Any]]:
        if not self.enable_grades:
            return []
        from . import _grades_api  # imports JupyterHub's API handlers: only when used

        scope = _grades_api.required_scope()
        self.log.info("LTI 1.3 grades and roster API enabled; callers need the %s scope", scope)
        if scope != _grades_api.GRADES_SCOPE:
            self.log.warning(
                "LTI 1.3 grades API: JupyterHub.custom_scopes does not define %s, so only "
                "tokens with admin:users may post grades; define it and grant it to the "
                "grading service or instructors' role",
                _grades_api.GRADES_SCOPE,
            )
        return list(_grades_api.HANDLERS)

    @property
    def service_client(self) -> _grades.ServiceClient:
        """The client of the platforms' grade and roster services (tokens cached)."""
        if self._service_client is None:
            tokens = _service_token.ServiceTokens(lambda: self.tool_signer)
            self._service_client = _grades.ServiceClient(tokens)
        return self._service_client

    def get_uri_scheme(self, request: HTTPServerRequest) -> str:
        """The scheme of URLs built for the platform: ``uri_scheme`` unless it is ``auto``."""
        if self.uri_scheme != "auto":
            return self.uri_scheme
        return get_browser_protocol(request)

    # -- authentication ----------------------------------------------------------------

    def get_username(self, claims: Dict[str, Any]) -> str:
        """The username for verified ``claims`` (before ``normalize_username``).

        The registration that verified the launch decides the ``username_key`` and the
        ``username_prefix``; called outside a launch, the claims' issuer and audience
        pick it.
        """
        registration = CURRENT_REGISTRATION.get() or self.registry.for_claims(claims)
        key = (registration.username_key if registration else None) or self.username_key
        prefix = registration.username_prefix if registration else ""
        return prefix + _username.username_from_claims(claims, key)

    def launch_username(
        self, claims: Dict[str, Any], registration: Optional[PlatformRegistration]
    ) -> str:
        """:meth:`get_username` for a launch verified against ``registration``."""
        token = CURRENT_REGISTRATION.set(registration)
        try:
            return self.get_username(claims)
        finally:
            CURRENT_REGISTRATION.reset(token)

    async def authenticate(
        self, handler: Any, data: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]:
        """Turn the verified launch claims (``data``) into a JupyterHub user model.

        With ``manage_groups`` / ``manage_roles`` on, the model also carries the groups
        and roles the rules give this launch; with ``admin_roles``, the admin flag.
        """
        data = data or {}
        launch = getattr(handler, "launch", None)
        registration = launch.registration if launch is not None else None
        registration = registration or self.registry.for_claims(data)
        username = self.launch_username(data, registration)
        self._check_allowed_roles(data)
        model: Dict[str, Any] = {"name": username, "auth_state": dict(data)}
        if self.enable_grades:
            await self._keep_services(handler, model, registration)
        is_listed_admin = self.normalize_username(username) in self.admin_users
        if is_listed_admin and registration and not self.registry.owns_admin_names(registration):
            raise LaunchForbiddenError(
                "This account is an administrator's account of another platform.",
                reason="admin_name_of_another_platform",
                hint="Ask the hub administrator to give each platform its own username_prefix.",
            )
        fields = _roles.template_fields(data, registration.slug if registration else "")
        if self.manage_groups:
            model["groups"] = _roles.names_for_roles(
                data, self.role_groups or DEFAULT_ROLE_GROUPS, self.max_group_name_length, fields
            )
        if self.admin_roles:
            model["admin"] = _roles.has_any_role(data, self.admin_roles) or is_listed_admin
        if getattr(self, "manage_roles", False):
            model["roles"] = self.roles_for_launch(data, model, fields)
        return model

    async def _keep_services(
        self, handler: Any, model: Dict[str, Any], registration: Optional[PlatformRegistration]
    ) -> None:
        """Add this launch's grade/roster service URLs to those of the user's earlier
        launches (kept in auth_state), so any link launched from can be graded."""
        entry = _grades.services_entry(model["auth_state"], registration)
        previous = None
        find_user = getattr(handler, "find_user", None)
        if entry is not None and find_user is not None and self.enable_auth_state:
            user = find_user(self.normalize_username(model["name"]))
            if user is not None:
                previous = ((await user.get_auth_state()) or {}).get(_grades.SERVICES_KEY)
        merged = _grades.merge_services(previous, entry)
        if merged is not None:
            model["auth_state"][_grades.SERVICES_KEY] = merged

    def _check_allowed_roles(self, claims: Dict[str, Any]) -> None:
        if not self.allowed_roles:
            return
        roles = _roles.role_keys(claims)
        if not roles & self.allowed_roles:
            raise LaunchForbiddenError(
                "Your role in this course does not give access to this hub "
                f"(roles: {', '.join(sorted(roles))[:200] or 'none'}).",
                reason="role_not_allowed",
                hint="Ask your instructor or the hub administrator if you should have access.",
            )

    def roles_for_launch(
        self,
        claims: Dict[str, Any],
        model: Dict[str, Any],
        fields: Optional[Dict[str, str]] = None,
    ) -> List[Dict]:
        """JupyterHub roles (name, scopes) for this launch, from ``role_scopes``."""
        if fields is None:
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
                f"lti-{key}-{fields.get('course', 'all')}", self.max_group_name_length
            )
            roles.append(
                {"name": name, "scopes": scopes, "description": f"LTI role {key} (from launches)"}
            )
        # JupyterHub syncs the user's roles to exactly this list: keep admins admin
        if model.get("admin") or self.normalize_username(model["name"]) in self.admin_users:
            roles.append({"name": "admin"})
        return roles
