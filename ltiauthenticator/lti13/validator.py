"""LTI13LaunchValidator: every check on the login request, the launch form and the id_token.

The validator knows nothing about tornado's web layer. It raises the errors of
:mod:`ltiauthenticator.lti13.error`; the handlers translate them to HTTP responses.

Order of the checks on a launch (STYLE: state first, then the token):
header (``alg``, ``kid``, ``crit``) → signature → claim types → ``exp`` / ``iat`` /
``nbf`` → ``iss`` → ``aud`` → message claims and ``max_age`` → deployment allowlist →
``azp`` → nonce (by the handler) → username (by the authenticator). The launch path
never switches the signature check off.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Union

import jwt
from jwt.exceptions import PyJWTError
from traitlets import Any as AnyTrait
from traitlets import Instance, Integer, default
from traitlets.config import LoggingConfigurable

from . import _claims, _jwt
from ._jwks import JWKSCache
from .constants import (
    ASYMMETRIC_ALGORITHMS,
    DEPLOYMENT_ID_CLAIM,
    LTI13_AUTH_RESPONSE_ARGS,
    LTI13_LOGIN_OPTIONAL_ARGS,
    LTI13_LOGIN_REQUEST_ARGS,
    LTI13_REQUIRED_TOKEN_CLAIMS,
)
from .error import (
    IncorrectValueError,
    MissingRequiredArgumentError,
    PayloadTooLargeError,
    TokenError,
)

START_FROM_LMS_HINT = (
    "Open this tool from your course in the learning platform (LMS) instead of visiting "
    "this address directly."
)

# Messages people already search for in their logs keep their wording.
_MISSING_MESSAGES = {"state": "OAuth state missing from URL."}


class LTI13LaunchValidator(LoggingConfigurable):
    """Validates LTI 1.3 login requests, launch forms and id_tokens.

    Configure it as ``c.LTI13LaunchValidator.<trait>``. Subclasses may override
    :meth:`validate_login_request`, :meth:`validate_auth_response`,
    :meth:`verify_and_decode_jwt`, :meth:`validate_id_token` and
    :meth:`validate_azp_claim`; the handlers call them in that order.
    """

    time_leeway = Integer(
        0,
        config=True,
        help="""Seconds of clock difference tolerated between the platform and the hub.

        Applies to the ``exp``, ``iat`` and ``nbf`` claims of the id_token. Raise it when
        launches fail with "The token is not yet valid" because the LMS's clock runs
        ahead of the hub's, e.g. ``c.LTI13LaunchValidator.time_leeway = 10``.
        """,
    )
    max_age = Integer(
        600,
        config=True,
        help="""Oldest id_token accepted, in seconds since its ``iat`` (issued at) claim.

        A token issued longer ago is refused even if its ``exp`` is later. ``0`` turns
        this check off (``exp`` still applies).
        """,
    )
    max_token_length = Integer(
        65536,
        config=True,
        help="""Largest id_token accepted, in characters; longer ones get HTTP 413, unparsed.

        .. versionadded:: 2.0
        """,
    )
    max_argument_length = Integer(
        8192,
        config=True,
        help="""Largest value of any other login or launch parameter, in characters (else HTTP 413).

        .. versionadded:: 2.0
        """,
    )

    key_cache = Instance(
        JWKSCache,
        help="The platform key cache; the authenticator passes its own shared instance.",
    )
    clock = AnyTrait(help="Wall clock returning seconds since the epoch, injectable for tests.")

    @default("key_cache")
    def _default_key_cache(self) -> JWKSCache:
        return JWKSCache(parent=self)

    @default("clock")
    def _default_clock(self) -> Callable[[], float]:
        return time.time

    # -- request arguments ---------------------------------------------------------

    def _check_arguments(
        self, args: Mapping[str, Any], required: Iterable[str], optional: Iterable[str] = ()
    ) -> None:
        for name in [*required, *optional]:
            value = args.get(name)
            if isinstance(value, list):
                raise IncorrectValueError(
                    f"The parameter {name!r} was given more than once.", reason="repeated_argument"
                )
            limit = self.max_token_length if name == "id_token" else self.max_argument_length
            if value is not None and len(value) > limit:
                raise PayloadTooLargeError(
                    f"The parameter {name!r} is longer than the {limit} characters accepted."
                )
        for name in required:
            if not args.get(name, "").strip():
                raise MissingRequiredArgumentError(
                    _MISSING_MESSAGES.get(name, f"Missing required argument {name}."),
                    reason=f"missing_{name}",
                )

    def validate_login_request(self, args: Mapping[str, Any]) -> None:
        """Check a third-party initiated login (``iss``, ``login_hint``, ``target_link_uri``)."""
        if not any(args.get(name) for name in LTI13_LOGIN_REQUEST_ARGS):
            raise MissingRequiredArgumentError(
                "This is the LTI 1.3 login address, and the request carries no launch.",
                reason="not_a_launch",
                hint=START_FROM_LMS_HINT,
            )
        self._check_arguments(args, LTI13_LOGIN_REQUEST_ARGS, LTI13_LOGIN_OPTIONAL_ARGS)

    def validate_auth_response(self, args: Mapping[str, Any]) -> None:
        """Check the platform's form POST carries one ``id_token`` and one ``state``."""
        self._check_arguments(args, LTI13_AUTH_RESPONSE_ARGS)

    # -- the id_token --------------------------------------------------------------

    def verify_and_decode_jwt(
        self,
        encoded_jwt: Union[str, bytes],
        issuer: str,
        audience: Optional[Iterable[str]],
        jwks_endpoint: str,
        jwks_algorithms: Iterable[str],
        **kwargs: Any,
    ) -> Dict[str, Any]:
        """Verify the id_token's signature and registered claims; return its claims.

        Synchronous, as in the established plugin. The key comes from the shared key
        cache, which the launch handler fills (without blocking) before calling this.
        Called on a cold cache (a subclass, a unit test), it falls back to a blocking
        fetch through PyJWT's ``PyJWKClient``; the launch path never does.

        Errors keep PyJWT's messages: ``Signature verification failed``, ``Invalid
        issuer``, ``Signature has expired``, ``The token is not yet valid (iat)``,
        ``Audience doesn't match``, ``Invalid audience``. ``options={"verify_signature":
        False}`` returns the claims unverified, for callers who ask for exactly that.
        """
        if isinstance(encoded_jwt, bytes):
            encoded_jwt = encoded_jwt.decode("utf-8", errors="replace")
        if len(encoded_jwt) > self.max_token_length:
            raise PayloadTooLargeError(
                f"The id_token is longer than the {self.max_token_length} characters accepted."
            )
        parsed = _jwt.parse_compact(encoded_jwt)
        options = kwargs.get("options") or {}
        if options.get("verify_signature") is False:
            return _jwt.decode_payload(parsed)
        alg = self._accepted_alg(parsed.header, jwks_algorithms)
        kid = parsed.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("The id_token's header names no signing key (kid).", reason="no_kid")
        key = self._signing_key(jwks_endpoint, kid, alg)
        claims = _jwt.verify_signature(parsed, key, alg)

        _claims.check_claim_types(claims)
        _claims.require_claims(claims, LTI13_REQUIRED_TOKEN_CLAIMS)
        _claims.check_time_claims(claims, now=self.clock(), leeway=self.time_leeway)
        _claims.check_issuer(claims, issuer)
        _claims.check_audience(claims, audience)
        return claims

    def _signing_key(self, jwks_endpoint: str, kid: str, alg: str) -> Any:
        key = self.key_cache.cached_signing_key(jwks_endpoint, kid, alg)
        if key is not None:
            return key
        if not jwks_endpoint:
            raise TokenError("No JWKS endpoint is configured to verify the id_token with.")
        # Cold cache outside the launch path only: the established plugin's blocking fetch.
        try:
            return jwt.PyJWKClient(jwks_endpoint).get_signing_key(kid).key
        except PyJWTError as e:
            raise TokenError(str(e)) from None

    def replay_window(self, claims: Mapping[str, Any]) -> float:
        """Seconds from now until these claims could no longer pass the checks.

        A used nonce must be remembered at least that long: ``exp`` (Canvas sends an
        hour) or ``iat + max_age``, whichever comes later, plus the leeway.
        """
        last = claims["exp"]
        if self.max_age:
            last = max(last, claims["iat"] + self.max_age)
        return max(last + self.time_leeway - self.clock(), 0.0) + 1

    @staticmethod
    def _accepted_alg(header: Mapping[str, Any], jwks_algorithms: Iterable[str]) -> str:
        alg = header.get("alg")
        accepted = [a for a in jwks_algorithms if a in ASYMMETRIC_ALGORITHMS]
        if not isinstance(alg, str) or alg not in accepted:
            raise TokenError(
                f"The id_token is signed with an algorithm this hub does not accept "
                f"(accepted: {', '.join(accepted) or 'none'}).",
                reason="bad_alg",
            )
        return alg

    def validate_azp_claim(self, claims: Mapping[str, Any], client_ids: Iterable[str]) -> None:
        """``azp`` must name one of our client ids; it is required when ``aud`` lists several."""
        _claims.check_azp(claims, client_ids)

    def validate_id_token(self, claims: Mapping[str, Any]) -> None:
        """The LTI message claims (version, message type and what that type requires) and
        the token's age (``max_age``)."""
        _claims.check_message_claims(claims)
        _claims.check_max_age(
            claims, now=self.clock(), leeway=self.time_leeway, max_age=self.max_age
        )

    def validate_deployment(
        self, claims: Mapping[str, Any], allowed_deployment_ids: Optional[Iterable[str]]
    ) -> None:
        """Refuse a deployment that is not on the registration's allowlist (when it has one)."""
        if not allowed_deployment_ids:
            return
        deployment_id = claims[DEPLOYMENT_ID_CLAIM]
        if deployment_id not in set(allowed_deployment_ids):
            raise IncorrectValueError(
                f"The launch comes from deployment {deployment_id[:64]!r}, which this hub "
                "does not accept.",
                reason="unknown_deployment",
                hint="The hub administrator can add it to the platform's deployment_ids.",
            )
