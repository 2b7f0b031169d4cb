"""The platform's state: its keys, the tool it knows, launches in progress, id_tokens."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from ..lti13 import constants as c

LIS_ROLES = "http://purl.imsglobal.org/vocab/lis/v2/"
ROLES = {
    "student": [LIS_ROLES + "membership#Learner", LIS_ROLES + "institution/person#Student"],
    "instructor": [LIS_ROLES + "membership#Instructor", LIS_ROLES + "institution/person#Faculty"],
    "ta": [LIS_ROLES + "membership/Instructor#TeachingAssistant"],
    "admin": [LIS_ROLES + "system/person#Administrator"],
}

DEFAULT_COURSE = {"id": "course-101", "label": "DATA101", "title": "Introduction to Data Science"}


@dataclass
class ToolRegistration:
    """What the LMS knows about the tool (JupyterHub) it launches into."""

    client_id: str
    login_url: str
    redirect_uris: List[str]
    target_link_uri: str
    deployment_id: str = "deployment-1"
    #: Set by dynamic registration: the name the tool gave and where it publishes its
    #: keys (empty: next to its login URL, where the hub has them).
    client_name: str = ""
    jwks_uri: str = ""

    @property
    def keys_url(self) -> str:
        """Where the tool publishes its keys: as registered, else beside its login URL.

        JupyterHub serves ``/hub/lti13/jwks`` next to ``/hub/lti13/oauth_login``.
        """
        return self.jwks_uri or self.login_url.rsplit("/", 1)[0] + "/jwks"


@dataclass
class Launch:
    """One launch in progress: who, as what, into which course, and any deviations.

    ``claims`` is merged over the generated claims (a value of ``None`` removes the
    claim); ``headers`` over the JWT header. The ``*_offset`` fields shift timestamps,
    ``aud`` replaces the audience, ``sign_with`` names a key that is *not* published.
    """

    user: str = "student1"
    role: str = "student"
    message_type: str = c.RESOURCE_LINK_REQUEST
    course: Optional[Dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_COURSE))
    claims: Dict[str, Any] = field(default_factory=dict)
    headers: Dict[str, Any] = field(default_factory=dict)
    target_link_uri: Optional[str] = None
    send_client_id: bool = True
    iat_offset: float = 0
    exp_seconds: float = 300
    aud: Any = None
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    login_hint: str = ""
    #: Name of the platform storage frame to offer the tool (``lti_storage_target``),
    #: for the 1EdTech client-side postMessage storage; None offers none.
    storage_target: Optional[str] = None

    def __post_init__(self) -> None:
        self.login_hint = self.login_hint or f"hint-{self.user}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_signing_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (50-200 ms of CPU)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class EmulatedPlatform:
    """An LMS with one RSA signing key (more during rotation) and one registered tool."""

    #: Where the platform's signing keys come from (a test suite that starts many
    #: platforms may hand out keys it made beforehand). Each call must return a new key.
    key_source: Callable[[], rsa.RSAPrivateKey] = staticmethod(new_signing_key)

    def __init__(self, issuer: str, tool: ToolRegistration, *, name: str = "Emulated LMS") -> None:
        self.issuer = issuer
        self.tool = tool
        self.name = name
        self.keys: Dict[str, Any] = {}
        self.signing_kid = self.rotate_key(keep_old=False)
        self.launches: Dict[str, Launch] = {}
        # JWKS endpoint behaviour, adjustable while running
        self.jwks_latency = 0.0
        self.jwks_status = 200
        self.jwks_cache_control = "max-age=3600"
        # what happened, for tests and the benchmark
        self.jwks_fetches = 0
        self.authorization_errors: List[str] = []
        #: Filled in on the "Add a tool by URL" page (the demo's hub), for convenience.
        self.suggested_registration_url = ""
        # dynamic registration (dynamic_registration.py): registration token → expiry
        self.registration_tokens: Dict[str, float] = {}
        self.used_registration_tokens: Set[str] = set()
        #: Canvas-like when True: the OpenID configuration needs a registration token.
        self.require_token_for_configuration = False
        self.configuration_requests: List[Dict[str, Any]] = []
        self.registration_requests: List[Any] = []
        #: Every tool registered dynamically, oldest first; the newest is ``self.tool``.
        self.registered_tools: List[ToolRegistration] = []

    # -- keys --------------------------------------------------------------------------

    def rotate_key(self, keep_old: bool = True) -> str:
        """Generate a new signing key; publish it (and, with ``keep_old``, the old ones)."""
        kid = "emulator-" + secrets.token_hex(6)
        key = self.key_source()
        if not keep_old:
            self.keys.clear()
        self.keys[kid] = key
        self.signing_kid = kid
        return kid

    def jwks(self) -> Dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
            published.append(jwk)
        return {"keys": published}

    def sign(
        self,
        claims: Mapping[str, Any],
        headers: Optional[Mapping[str, Any]] = None,
        key: Any = None,
    ) -> str:
        """An RS256 JWT over ``claims``, signed with the current key (or ``key``).

        Signed as a plain JWS so that tests can sign claims of any type: PyJWT's
        ``jwt.encode`` would refuse, say, a non-string ``iss`` before signing.
        """
        payload = json.dumps(dict(claims), separators=(",", ":")).encode()
        return self.sign_raw_payload(payload, headers, key)

    def sign_raw_payload(
        self, payload: bytes, headers: Optional[Mapping[str, Any]] = None, key: Any = None
    ) -> str:
        """An RS256 JWS over ``payload`` exactly as given (even text that is not JSON)."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.signing_kid, **(headers or {})}
        header = {k: v for k, v in header.items() if v is not None}
        signing_key = key if key is not None else self.keys[self.signing_kid]
        segments = [
            base64.urlsafe_b64encode(part).rstrip(b"=")
            for part in (json.dumps(header, separators=(",", ":")).encode(), payload)
        ]
        signing_input = b".".join(segments)
        signature = signing_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()

    @staticmethod
    def raw_token(header: Any, payload: bytes, signature: bytes = b"sig") -> str:
        """A compact JWS built by hand, for malformed-token tests."""
        header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
        return ".".join(_b64url(part) for part in (header_bytes, payload, signature))

    @property
    def tool_origin(self) -> str:
        """The tool's origin: the only one the storage frame keeps data for."""
        parts = urlsplit(self.tool.login_url)
        return f"{parts.scheme}://{parts.netloc}"

    # -- dynamic registration tokens ----------------------------------------------------

    def mint_registration_token(self, ttl: float = 3600) -> str:
        """A new registration token, valid for one registration within ``ttl`` seconds."""
        token = secrets.token_urlsafe(24)
        self.registration_tokens[token] = time.time() + ttl
        return token

    def registration_token_problem(self, token: str) -> str:
        """Why ``token`` cannot be used (a sentence for the tool), or "" when it can."""
        if not token:
            return "send the registration token as 'Authorization: Bearer <token>'"
        if token in self.used_registration_tokens:
            return "this registration token was already used; start again from the platform"
        expiry = self.registration_tokens.get(token)
        if expiry is None:
            return "this platform did not issue this registration token"
        if time.time() >= expiry:
            return "this registration token has expired; start again from the platform"
        return ""

    def use_registration_token(self, token: str) -> None:
        """Spend ``token``: a registration token registers one tool only."""
        self.registration_tokens.pop(token, None)
        self.used_registration_tokens.add(token)

    # -- launches ----------------------------------------------------------------------

    def start_launch(self, launch: Optional[Launch] = None, **fields: Any) -> Tuple[Launch, str]:
        """Record a launch; return it and the tool's login initiation URL to visit."""
        launch = launch or Launch(**fields)
        self.launches[launch.id] = launch
        return launch, self.tool.login_url + "?" + urlencode(self.login_parameters(launch))

    def login_parameters(self, launch: Launch) -> Dict[str, str]:
        params = {
            "iss": self.issuer,
            "login_hint": launch.login_hint,
            "target_link_uri": launch.target_link_uri or self.tool.target_link_uri,
            "lti_message_hint": launch.id,
            "lti_deployment_id": self.tool.deployment_id,
        }
        if launch.send_client_id:
            params["client_id"] = self.tool.client_id
        if launch.storage_target:
            params["lti_storage_target"] = launch.storage_target
        return params

    def check_authorization_request(self, params: Mapping[str, str]) -> Launch:
        """Validate the tool's authentication request as a strict LMS does.

        Raises ``ValueError`` naming the first problem.
        """
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.tool.client_id,
        }
        for name, value in expected.items():
            if params.get(name) != value:
                raise ValueError(f"{name} must be {value!r}, got {params.get(name)!r}")
        if params.get("redirect_uri") not in self.tool.redirect_uris:
            raise ValueError(f"redirect_uri {params.get('redirect_uri')!r} is not registered")
        for name in ("nonce", "state", "login_hint", "lti_message_hint"):
            if not params.get(name):
                raise ValueError(f"{name} is missing")
        launch = self.launches.get(params["lti_message_hint"])
        if launch is None:
            raise ValueError("lti_message_hint does not name a launch in progress")
        if params["login_hint"] != launch.login_hint:
            raise ValueError("login_hint does not match the launch")
        return launch

    def claims_for(self, launch: Launch, nonce: str) -> Dict[str, Any]:
        now = int(time.time() + launch.iat_offset)
        user = launch.user
        claims: Dict[str, Any] = {
            "iss": self.issuer,
            "aud": launch.aud if launch.aud is not None else self.tool.client_id,
            "sub": f"sub-{user}",
            "iat": now,
            "exp": now + int(launch.exp_seconds),
            "nonce": nonce,
            "email": f"{user}@example.edu",
            "name": f"{user.title()} Example",
            "given_name": user.title(),
            "family_name": "Example",
            "locale": "en",
            c.MESSAGE_TYPE_CLAIM: launch.message_type,
            c.VERSION_CLAIM: c.LTI_VERSION,
            c.DEPLOYMENT_ID_CLAIM: self.tool.deployment_id,
            c.TARGET_LINK_URI_CLAIM: launch.target_link_uri or self.tool.target_link_uri,
            c.ROLES_CLAIM: list(ROLES.get(launch.role, [])),
            c.TOOL_PLATFORM_CLAIM: {
                "guid": "emulator",
                "name": self.name,
                "product_family_code": "emulator",
            },
            c.CUSTOM_CLAIM: {"uname": user, "course_code": (launch.course or {}).get("label", "")},
            c.LIS_CLAIM: {"person_sourcedid": f"sis-{user}"},
            c.LAUNCH_PRESENTATION_CLAIM: {"document_target": "iframe"},
        }
        if launch.course is not None:
            claims[c.CONTEXT_CLAIM] = {
                **launch.course,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            }
        if launch.message_type == c.RESOURCE_LINK_REQUEST:
            claims[c.RESOURCE_LINK_CLAIM] = {"id": f"link-{launch.id}", "title": "Notebook"}
        else:
            claims[c.DEEP_LINKING_SETTINGS_CLAIM] = {
                "deep_link_return_url": self.issuer + "/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": f"request-{launch.id}",  # opaque: the tool must echo it back
            }
        services = getattr(self, "services", None)  # set by make_app (services.py)
        if services is not None and launch.message_type == c.RESOURCE_LINK_REQUEST:
            claims.update(services.claims(launch))
        for name, value in launch.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def id_token_for(self, launch: Launch, nonce: str) -> str:
        return self.sign(self.claims_for(launch, nonce), launch.headers)
