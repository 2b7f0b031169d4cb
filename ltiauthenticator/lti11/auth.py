"""LTI11Authenticator: log users in from an LTI 1.1 launch (OAuth 1.0a signed form POST).

Kept from jupyterhub-ltiauthenticator 1.6.3 with the same configuration, URLs and
behaviour, except where that behaviour was a security hole (see the migration notes):
the record of used nonces is bounded, and ``custom_next`` only leads to pages of the hub.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

from jupyterhub.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from tornado.web import HTTPError
from traitlets import CaselessStrEnum, Unicode, validate
from traitlets import Dict as DictTrait

from .._access import AdmitLaunchedUsers
from ..utils import get_browser_protocol
from .handlers import LTI11AuthenticateHandler, LTI11ConfigHandler
from .validator import LTI11LaunchValidator

LaunchArgs = Dict[str, Union[str, List[str]]]

LTI11_SPEC = "https://www.imsglobal.org/specs/ltiv1p1p1/implementation-guide"


def launch_arguments(arguments: Dict[str, List[Union[bytes, str]]]) -> LaunchArgs:
    """tornado's ``request.arguments`` as ``{name: str}`` (``[str, ...]`` when repeated).

    Unlike ``ltiauthenticator.utils.convert_request_to_dict``, nothing is dropped or
    replaced: the signature covers every value exactly as sent. Bytes that are not UTF-8
    are refused (tornado hands argument names over decoded as Latin-1; they are decoded
    again as the UTF-8 the signature uses).
    """
    converted: LaunchArgs = {}
    try:
        for raw_name, raw_values in arguments.items():
            name = raw_name.encode("latin-1").decode("utf-8")
            values = [v if isinstance(v, str) else v.decode("utf-8") for v in raw_values]
            converted[name] = values[0] if len(values) == 1 else values
    except UnicodeError:
        raise HTTPError(
            400, "%s", "The launch contains bytes that are not UTF-8: LTI 1.1 launches are UTF-8."
        ) from None
    return converted


class LTI11Authenticator(AdmitLaunchedUsers):
    """Log users in from an LMS with an LTI 1.1 launch.

    The LMS (the "tool consumer") posts a form signed with a consumer key and secret to
    ``/hub/lti/launch``. Set the key and secret pairs in ``consumers``; register the
    launch URL, or the configuration XML at ``/hub/lti11/config``, in the LMS.

    Every user the LMS launches may log in unless ``allowed_users`` is set (``allow_all``
    defaults to true otherwise, as it did before JupyterHub 5). Subclasses may override
    ``authenticate`` and ``get_username``; ``ltiauthenticator.LTIAuthenticator`` is this class.
    """

    auto_login = True
    login_service = "LTI 1.1"

    consumers = DictTrait(
        config=True,
        help="""The LMS consumer keys this hub accepts, each mapped to its shared secret.

        ``{"consumer-key": "shared-secret"}``. Launches signed with another key are
        refused (401). Several entries let several LMSs (or courses) launch into one hub.
        Keep the secrets out of version control, e.g. read them from the environment.
        """,
    )
    username_key = Unicode(
        "custom_canvas_user_id",
        allow_none=True,
        config=True,
        help="""The launch argument whose value becomes the JupyterHub username.

        Common choices: ``user_id`` (the LMS's opaque, stable id),
        ``lis_person_contact_email_primary`` (the email address), or a custom argument
        (``custom_<name>``) the LMS fills in by variable substitution, see """
        + LTI11_SPEC
        + """ section 9.

        When the argument is missing or empty, ``user_id`` is used; a launch without
        either is refused (400). The default, ``custom_canvas_user_id``, is the Canvas
        user id (Canvas sends it); other LMSs do not send it, so ``user_id`` applies.

        When moving a course to LTI 1.3, ``ltiauthenticator.lti13.lti1p1_username`` maps
        the same setting onto LTI 1.3 launches, so everyone keeps their username.
        """,
    )
    uri_scheme = CaselessStrEnum(
        ["auto", "https", "http"],
        default_value="auto",
        config=True,
        help="""Scheme of the launch URL the signature is checked against.

        The LMS signs the exact launch URL it posts to. ``auto`` takes the scheme from
        the ``X-Scheme`` or ``X-Forwarded-Proto`` header (first hop) or the request
        itself. Set ``https`` when a chain of proxies terminates TLS and launches fail
        with "Invalid oauth_signature".
        """,
    )
    config_title = Unicode(
        "JupyterHub",
        config=True,
        help="The tool's title in the LTI 1.1 configuration XML served at ``/hub/lti11/config``.",
    )
    config_description = Unicode(
        "JupyterHub LTI 1.1 external tool",
        config=True,
        help="The tool's description in the configuration XML served at ``/hub/lti11/config``.",
    )
    config_icon = Unicode(
        "",
        config=True,
        help="""URL of the tool's icon in the configuration XML (optional).

        LMSs show it next to the tool's name; a 16×16 pixel PNG, GIF or JPEG at a long-lived
        http(s) URL, e.g. ``https://my.content.domain/img/tool_icon.png``.
        """,
    )

    @classmethod
    def section_names(cls) -> List[str]:
        """The config sections read, lowest precedence first: ``LTIAuthenticator`` too.

        ``ltiauthenticator.LTIAuthenticator`` is this class under its 1.0 name, and
        configurations written for it set ``c.LTIAuthenticator.<option>``. traitlets only
        reads sections named after the classes of the MRO, so that section is added
        here, just below ``LTI11Authenticator`` (which wins when both set an option).
        """
        names = super().section_names()
        if "LTI11Authenticator" in names and "LTIAuthenticator" not in names:
            at = names.index("LTI11Authenticator")
            names = names[:at] + ["LTIAuthenticator"] + names[at:]
        return names

    @validate("consumers")
    def _check_consumers(self, proposal: Any) -> Dict[str, str]:
        consumers = proposal["value"]
        for key, secret in consumers.items():
            if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
                raise ValueError(
                    "LTI11Authenticator.consumers maps non-empty consumer keys to non-empty "
                    "secrets, all strings"
                )
        return consumers

    # -- URLs and handlers -------------------------------------------------------------

    def login_url(self, base_url: str) -> str:
        return url_path_join(base_url, "/lti/launch")

    def get_handlers(self, app: Any) -> List[Tuple[str, Any]]:
        if not self.consumers:
            self.log.warning(
                "LTI11Authenticator.consumers is empty: every LTI 1.1 launch will be refused"
            )
        return [
            ("/lti/launch", LTI11AuthenticateHandler),
            ("/lti11/config", LTI11ConfigHandler),
        ]

    def get_uri_scheme(self, request: HTTPServerRequest) -> str:
        """The scheme of the launch URL: ``uri_scheme`` unless it is ``auto``."""
        if self.uri_scheme == "auto":
            return get_browser_protocol(request)
        return self.uri_scheme

    # -- authentication ----------------------------------------------------------------

    def get_username(self, args: Dict[str, Any]) -> Optional[str]:
        """The value of ``username_key`` in the launch, else ``user_id`` (or None)."""
        username = args.get(self.username_key) if self.username_key else None
        return username or args.get("user_id") or None

    async def authenticate(self, handler: Any, data: Optional[Dict[str, Any]] = None) -> Dict:
        """Validate the launch ``handler`` received; return the user and its launch data.

        ``auth_state`` holds every launch argument except the ``oauth_*`` ones.
        """
        args = launch_arguments(handler.request.arguments)
        protocol = self.get_uri_scheme(handler.request)
        launch_url = f"{protocol}://{handler.request.host}{handler.request.uri}"
        LTI11LaunchValidator(self.consumers).validate_launch_request(
            launch_url, handler.request.headers, args
        )
        username = self.get_username(args)
        if not username:
            raise HTTPError(
                400,
                "%s",
                f"The launch carries neither {self.username_key} nor user_id, so no "
                "username can be set: ask the LMS administrator to share the user's id "
                "with this tool, or change LTI11Authenticator.username_key.",
            )
        return {
            "name": username,
            "auth_state": {k: v for k, v in args.items() if not k.startswith("oauth_")},
        }
