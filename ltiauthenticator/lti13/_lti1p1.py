"""Keep LTI 1.1 usernames when a course moves to LTI 1.3: the ``lti1p1`` migration claim.

A platform that launched a tool with LTI 1.1 and now launches it with LTI 1.3 can add the
claim ``https://purl.imsglobal.org/spec/lti/claim/lti1p1`` to its id_tokens. It carries
the user's LTI 1.1 ``user_id`` and, when the tool had an LTI 1.1 consumer key, that key
(``oauth_consumer_key``) with ``oauth_consumer_key_sign``: the base64 HMAC-SHA256, keyed
with the LTI 1.1 consumer secret, of::

    oauth_consumer_key & deployment_id & iss & client_id & exp & nonce

(the values joined by ``&``; ``client_id`` is the tool's client id, the ``azp`` claim when
``aud`` lists several). The signature proves the claim comes from the platform that held
the LTI 1.1 secret, not from another LTI 1.3 platform trusted by the same hub. Source:
1EdTech LTI 1.3 Core, "LTI 1.1 migration claim", and the 1EdTech LTI 1.1 to LTI 1.3
migration guide, https://www.imsglobal.org/spec/lti/v1p3/migr.

:func:`lti1p1_username` builds a callable for ``LTI13Authenticator.username_key``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Callable, Mapping, Optional, Union

from .error import ValidationError

LTI1P1_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lti1p1"
_CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
_LIS_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lis"
_DEPLOYMENT_ID_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"

#: LTI 1.1 launch arguments usable as a username, and where LTI 1.3 carries the same
#: value: a top-level claim, or (claim, member). ``user_id`` comes from the lti1p1 claim;
#: ``custom_<name>`` arguments from the custom claim.
LTI11_TO_LTI13 = {
    "user_id": (LTI1P1_CLAIM, "user_id"),
    "lis_person_contact_email_primary": "email",
    "lis_person_name_full": "name",
    "lis_person_name_given": "given_name",
    "lis_person_name_family": "family_name",
    "lis_person_sourcedid": (_LIS_CLAIM, "person_sourcedid"),
}

UsernameReader = Callable[[Mapping[str, Any]], Optional[str]]


class LTI1p1ClaimError(ValidationError):
    """The lti1p1 claim cannot be trusted: unsigned, unknown key, or a wrong signature."""

    status_code = 401
    reason = "lti1p1_claim"
    title = "The LTI 1.1 identity in this launch could not be verified"


def lti1p1_signature(consumer_key: str, consumer_secret: str, claims: Mapping[str, Any]) -> str:
    """The ``oauth_consumer_key_sign`` a platform holding ``consumer_secret`` computes.

    Raises :class:`LTI1p1ClaimError` when a claim the signature covers is missing.
    """
    client_id = claims.get("azp")
    if client_id is None:
        aud = claims.get("aud")
        client_id = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
    parts = [
        consumer_key,
        claims.get(_DEPLOYMENT_ID_CLAIM),
        claims.get("iss"),
        client_id,
        claims.get("exp"),
        claims.get("nonce"),
    ]
    if not all(_is_scalar(part) for part in parts):
        raise LTI1p1ClaimError(
            "The lti1p1 claim's signature covers deployment_id, iss, aud (or azp), exp and "
            "nonce, and this launch lacks one of them."
        )
    message = "&".join(_as_text(part) for part in parts)
    digest = hmac.new(consumer_secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_lti1p1_claim(claims: Mapping[str, Any], consumers: Mapping[str, str]) -> None:
    """Raise :class:`LTI1p1ClaimError` unless the lti1p1 claim is signed by a consumer."""
    claim = claims.get(LTI1P1_CLAIM)
    if not isinstance(claim, Mapping):
        raise LTI1p1ClaimError("The lti1p1 claim is not a JSON object.")
    key, given = claim.get("oauth_consumer_key"), claim.get("oauth_consumer_key_sign")
    if not (isinstance(key, str) and key and isinstance(given, str) and given):
        raise LTI1p1ClaimError(
            "The lti1p1 claim is not signed (no oauth_consumer_key_sign): the LMS must link "
            "this LTI 1.3 tool to the LTI 1.1 tool and its consumer key."
        )
    secret = consumers.get(key)
    if not isinstance(secret, str):
        raise LTI1p1ClaimError(
            "The lti1p1 claim names an LTI 1.1 consumer key this hub does not know: add it "
            "to the consumers given to lti1p1_username."
        )
    try:
        given_digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        given_digest = b""
    expected_digest = base64.b64decode(lti1p1_signature(key, secret, claims))
    if not hmac.compare_digest(expected_digest, given_digest):
        raise LTI1p1ClaimError(
            "The lti1p1 claim's oauth_consumer_key_sign is wrong: check that the secret "
            "given to lti1p1_username is the LTI 1.1 consumer secret of this LMS."
        )


def lti1p1_username(
    consumers: Optional[Mapping[str, str]] = None,
    username_key: Optional[str] = "custom_canvas_user_id",
    fallback: Union[str, UsernameReader, None] = "sub",
) -> UsernameReader:
    """A ``LTI13Authenticator.username_key`` that gives LTI 1.3 launches their 1.1 username.

    ``consumers`` and ``username_key`` take the values ``LTIAuthenticator.consumers`` and
    ``LTIAuthenticator.username_key`` had in the LTI 1.1 configuration. The returned
    callable reads the value ``username_key`` named in LTI 1.1 from the LTI 1.3 claims
    (``custom_<name>`` from the custom claim, ``user_id`` from the lti1p1 claim, personal
    fields from their LTI 1.3 claims, see ``LTI11_TO_LTI13``), falling back to the lti1p1
    claim's ``user_id`` as the LTI 1.1 authenticator fell back to ``user_id``.

    When ``consumers`` is given, a launch carrying the lti1p1 claim is refused (401)
    unless the claim's ``oauth_consumer_key_sign`` verifies with that consumer's secret.
    Without ``consumers`` the claim is trusted as the platform signed it; do that only
    when every platform registered with the hub is trusted with every user's identity.

    A launch without an LTI 1.1 identity (a user the platform has no 1.1 id for, or a
    platform that sends no lti1p1 claim) gets ``fallback``: a claim name, ``custom_<name>``,
    a callable of the claims, or None to return None (the authenticator then falls back
    to ``sub``).
    """
    if username_key and not (username_key.startswith("custom_") or username_key in LTI11_TO_LTI13):
        raise ValueError(
            f"lti1p1_username: LTI 1.1 username_key {username_key!r} has no LTI 1.3 "
            f"counterpart; use user_id, custom_<name> or one of {sorted(LTI11_TO_LTI13)}"
        )
    consumers = dict(consumers or {})

    def lti1p1_username_key(claims: Mapping[str, Any]) -> Optional[str]:
        if consumers and LTI1P1_CLAIM in claims:
            verify_lti1p1_claim(claims, consumers)
        for key in (username_key, "user_id"):
            value = _read_lti11_key(claims, key) if key else None
            if _usable(value):
                return _as_text(value).strip()
        return _read_fallback(claims, fallback)

    lti1p1_username_key.__name__ = f"lti1p1_username({username_key})"
    return lti1p1_username_key


def _read_lti11_key(claims: Mapping[str, Any], key: str) -> Any:
    where = LTI11_TO_LTI13.get(key)
    if where is None:  # custom_<name>, as checked when the reader was made
        return _member(claims, _CUSTOM_CLAIM, key[len("custom_") :])
    if isinstance(where, tuple):
        return _member(claims, *where)
    return claims.get(where)


def _read_fallback(claims: Mapping[str, Any], fallback: Union[str, UsernameReader, None]) -> Any:
    if fallback is None:
        return None
    if callable(fallback):
        return fallback(claims)
    if fallback.startswith("custom_"):
        value = _member(claims, _CUSTOM_CLAIM, fallback[len("custom_") :])
    else:
        value = claims.get(fallback)
    return _as_text(value).strip() if _usable(value) else None


def _member(claims: Mapping[str, Any], claim: str, name: str) -> Any:
    container = claims.get(claim)
    return container.get(name) if isinstance(container, Mapping) else None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and value != ""


def _usable(value: Any) -> bool:
    return (isinstance(value, str) and value.strip() != "") or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
