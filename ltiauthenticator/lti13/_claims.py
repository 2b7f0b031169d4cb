"""Claim checks as data: types, registered claims, and per-message-type requirements.

Everything here is a pure function of the claims (plus the clock value passed in), so
the rules are easy to read, test and extend: adding a message type means adding one
row to :data:`MESSAGE_TYPES`, without touching the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

from . import constants as c
from .error import (
    IncorrectValueError,
    InvalidAudienceError,
    MissingRequiredArgumentError,
    TokenError,
)

Claims = Mapping[str, Any]

MAX_ID_LENGTH = 255  # LTI Core: ids (deployment, resource link, sub) are at most 255 chars


def claim_label(name: str) -> str:
    """A readable name for a claim in messages: the LTI short name, or the OIDC name."""
    for prefix in (c.LTI_CLAIM_PREFIX, c.DEEP_LINKING_CLAIM_PREFIX):
        if name.startswith(prefix):
            return f"LTI '{name[len(prefix) :]}' claim"
    return f"'{name}' claim"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_STRING = ("a string", lambda v: isinstance(v, str))
_NUMBER = ("a number", _is_number)
_OBJECT = ("a JSON object", lambda v: isinstance(v, dict))
_STR_LIST = ("a list of strings", _is_str_list)
# The established plugin accepts ``"roles": ""`` (a platform's way of saying "none").
_ROLES = ("a list of strings", lambda v: _is_str_list(v) or v == "")
_AUDIENCE = (
    "a string or a non-empty list of strings",
    lambda v: isinstance(v, str) or (_is_str_list(v) and len(v) > 0),
)

#: The JSON type each known claim must have when it is present.
CLAIM_TYPES: Dict[str, tuple] = {
    "iss": _STRING,
    "sub": _STRING,
    "aud": _AUDIENCE,
    "azp": _STRING,
    "nonce": _STRING,
    "exp": _NUMBER,
    "iat": _NUMBER,
    "nbf": _NUMBER,
    "email": _STRING,
    "name": _STRING,
    "given_name": _STRING,
    "family_name": _STRING,
    "middle_name": _STRING,
    "locale": _STRING,
    "picture": _STRING,
    c.MESSAGE_TYPE_CLAIM: _STRING,
    c.VERSION_CLAIM: _STRING,
    c.DEPLOYMENT_ID_CLAIM: _STRING,
    c.TARGET_LINK_URI_CLAIM: _STRING,
    c.ROLES_CLAIM: _ROLES,
    c.ROLE_SCOPE_MENTOR_CLAIM: _STR_LIST,
    c.RESOURCE_LINK_CLAIM: _OBJECT,
    c.CONTEXT_CLAIM: _OBJECT,
    c.CUSTOM_CLAIM: _OBJECT,
    c.LIS_CLAIM: _OBJECT,
    c.TOOL_PLATFORM_CLAIM: _OBJECT,
    c.LAUNCH_PRESENTATION_CLAIM: _OBJECT,
    c.DEEP_LINKING_SETTINGS_CLAIM: _OBJECT,
}


def check_claim_types(claims: Claims) -> None:
    """Refuse any known claim whose JSON type is wrong (a list where a string belongs…)."""
    for name, (expected, is_valid) in CLAIM_TYPES.items():
        if name in claims and not is_valid(claims[name]):
            raise IncorrectValueError(
                f"The {claim_label(name)} must be {expected}.", reason="claim_type"
            )


def require_claims(claims: Claims, names: Iterable[str]) -> None:
    for name in names:
        if name not in claims:
            raise MissingRequiredArgumentError(
                f"The id_token is missing the required {claim_label(name)}.",
                reason="missing_claim",
            )


def _require_text(value: Any, what: str, *, max_length: int = 0) -> None:
    if not isinstance(value, str) or not value.strip():
        raise MissingRequiredArgumentError(f"The {what} must not be empty.", reason="missing_claim")
    if max_length and len(value) > max_length:
        raise IncorrectValueError(
            f"The {what} is longer than {max_length} characters.", reason="claim_too_long"
        )


# -- registered (OIDC) claims ---------------------------------------------------------


def check_time_claims(claims: Claims, *, now: float, leeway: float) -> None:
    """``exp``, ``iat`` (not in the future) and ``nbf``, with PyJWT's messages."""
    if claims["exp"] + leeway <= now:
        raise TokenError(
            "Signature has expired", reason="expired", hint="The token has expired (exp)."
        )
    for name in ("iat", "nbf"):
        if name in claims and claims[name] - leeway > now:
            raise _not_yet_valid(name, claims[name] - now, leeway)


def _not_yet_valid(name: str, ahead: float, leeway: float) -> TokenError:
    skew = math.ceil(ahead)
    advice = (
        f"The learning platform's clock is about {skew} s ahead of the hub's. Fix the "
        "clocks (NTP), or allow for it with "
        f"c.LTI13LaunchValidator.time_leeway = {max(skew + 5, int(leeway) + 5)}."
    )
    return TokenError(
        f"The token is not yet valid ({name})",
        reason="not_yet_valid",
        hint=advice,
        detail=advice,
    )


def check_max_age(claims: Claims, *, now: float, leeway: float, max_age: float) -> None:
    """The token must not be older than ``max_age`` seconds (``0``: no limit)."""
    if max_age and _is_number(claims.get("iat")) and claims["iat"] + max_age + leeway < now:
        raise TokenError(
            f"The token was issued more than {int(max_age)} seconds ago (iat).", reason="too_old"
        )


def check_issuer(claims: Claims, issuer: str) -> None:
    if claims["iss"] != issuer:
        raise TokenError(
            "Invalid issuer",
            reason="wrong_issuer",
            hint="The token's issuer (iss) is not the platform this launch started from.",
        )


def check_audience(claims: Claims, client_ids: Optional[Iterable[str]]) -> None:
    """``aud`` must name one of ``client_ids`` (PyJWT's rules and messages)."""
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    if client_ids is None:
        if audiences:
            raise InvalidAudienceError("Invalid audience")
        return
    wanted = {client_ids} if isinstance(client_ids, str) else set(client_ids)
    if not set(audiences) & wanted:
        raise InvalidAudienceError(
            "Audience doesn't match",
            hint="The token was not issued for this tool's client id (aud): check "
            "LTI13Authenticator.client_id against the client id the LMS shows.",
        )


def check_azp(claims: Claims, client_ids: Iterable[str]) -> None:
    """``azp`` is required when ``aud`` has several values, and must always be ours."""
    aud = claims.get("aud")
    if "azp" not in claims:
        if isinstance(aud, list) and len(aud) > 1:
            raise InvalidAudienceError(
                "azp claim is missing although multiple values for aud are given.",
                reason="missing_azp",
            )
        return
    if claims["azp"] not in set(client_ids):
        raise InvalidAudienceError("azp claim does not match client_id.", reason="wrong_azp")


# -- LTI message claims ---------------------------------------------------------------


def _check_context(claims: Claims) -> None:
    """A course context needs a usable id (groups are keyed on it); the label is display
    text only and may be missing."""
    context = claims.get(c.CONTEXT_CLAIM)
    if context is None:
        return
    _require_text(context.get("id"), "LTI 'context' claim's id", max_length=MAX_ID_LENGTH)


def _check_resource_link(claims: Claims) -> None:
    _require_text(
        claims[c.RESOURCE_LINK_CLAIM].get("id"),
        "LTI 'resource_link' claim's id",
        max_length=MAX_ID_LENGTH,
    )
    _check_context(claims)


def _check_deep_linking(claims: Claims) -> None:
    settings = claims[c.DEEP_LINKING_SETTINGS_CLAIM]
    _require_text(settings.get("deep_link_return_url"), "deep linking return URL")
    for name in ("accept_types", "accept_presentation_document_targets"):
        if not _is_str_list(settings.get(name)):
            raise IncorrectValueError(
                f"The deep linking settings' {name} must be a list of strings.",
                reason="claim_type",
            )
    _check_context(claims)


@dataclass(frozen=True)
class MessageType:
    """What one LTI message type requires, beyond what every launch carries."""

    label: str
    required_claims: Sequence[str]
    check: Callable[[Claims], None]

    def validate(self, claims: Claims) -> None:
        require_claims(claims, self.required_claims)
        # the types were checked with the signature, unless a subclass calls this alone
        check_claim_types({name: claims[name] for name in self.required_claims})
        self.check(claims)


#: The one table of message types this tool accepts (LTI Core 1.3 §5.3, Deep Linking 2.0
#: §4.4): a new type is one more row, and the rules of one never leak into another.
MESSAGE_TYPES: Dict[str, MessageType] = {
    c.RESOURCE_LINK_REQUEST: MessageType(
        "resource link",
        [c.TARGET_LINK_URI_CLAIM, c.ROLES_CLAIM, c.RESOURCE_LINK_CLAIM],
        _check_resource_link,
    ),
    c.DEEP_LINKING_REQUEST: MessageType(
        "deep linking", [c.DEEP_LINKING_SETTINGS_CLAIM], _check_deep_linking
    ),
}


def check_message_claims(claims: Claims) -> None:
    """The LTI claims every launch carries, then the message type's own requirements."""
    general = (c.VERSION_CLAIM, c.MESSAGE_TYPE_CLAIM, c.DEPLOYMENT_ID_CLAIM)
    check_claim_types({name: claims[name] for name in general if name in claims})
    require_claims(claims, [c.VERSION_CLAIM])
    if claims[c.VERSION_CLAIM] != c.LTI_VERSION:
        raise IncorrectValueError(
            f"This tool supports LTI version {c.LTI_VERSION} only.", reason="wrong_version"
        )
    require_claims(claims, [c.MESSAGE_TYPE_CLAIM])
    name = claims[c.MESSAGE_TYPE_CLAIM]
    message_type = MESSAGE_TYPES.get(name) if isinstance(name, str) else None
    if message_type is None:
        accepted = " and ".join(t.label for t in MESSAGE_TYPES.values())
        raise IncorrectValueError(
            f"This tool accepts {accepted} launches only (message_type).",
            reason="wrong_message_type",
        )
    require_claims(claims, [c.DEPLOYMENT_ID_CLAIM])
    if len(claims[c.DEPLOYMENT_ID_CLAIM]) > MAX_ID_LENGTH:  # empty is accepted, as 1.6.3 does
        raise IncorrectValueError(
            f"The LTI 'deployment_id' claim is longer than {MAX_ID_LENGTH} characters.",
            reason="claim_too_long",
        )
    if "sub" in claims:
        _require_text(claims["sub"], "'sub' claim", max_length=MAX_ID_LENGTH)
    message_type.validate(claims)
