"""Claims → username: a pure function, before JupyterHub's ``normalize_username``."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

from .constants import CUSTOM_CLAIM, LTI_CLAIM_PREFIX
from .error import LoginError

CUSTOM_PREFIX = "custom_"


def _usable(value: Any) -> bool:
    """A value that can name a person.

    An LMS leaves a substitution variable it cannot expand as it is (Canvas sends the
    literal ``$Canvas.user.loginId`` when the field is not shared): everyone would get
    that same text, so a ``$…`` value counts as missing.
    """
    if isinstance(value, str):
        text = value.strip()
        return text != "" and not text.startswith("$")
    return isinstance(value, int) and not isinstance(value, bool)


UsernameKey = Union[str, Callable[[Mapping[str, Any]], Any]]


def _read_path(claims: Mapping[str, Any], path: str) -> Any:
    """``lis.person_sourcedid``: the first segment is a claim (LTI claims by short name)."""
    first, *rest = path.split(".")
    value = claims.get(first, claims.get(LTI_CLAIM_PREFIX + first))
    for segment in rest:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def read_username_claim(claims: Mapping[str, Any], username_key: UsernameKey) -> Any:
    """The value ``username_key`` points at, or None.

    ``custom_<name>`` reads ``<name>`` inside the LTI custom claim (only the first
    ``custom_`` is stripped, so ``custom_custom_id`` reads ``custom_id``); a key naming a
    top-level claim reads it; a dotted path walks into a claim; a callable is called
    with the claims.
    """
    if callable(username_key):
        return username_key(claims)
    if username_key.startswith(CUSTOM_PREFIX):
        custom = claims.get(CUSTOM_CLAIM)
        if not isinstance(custom, Mapping):
            return None
        return custom.get(username_key[len(CUSTOM_PREFIX) :])
    if username_key in claims or "." not in username_key:
        return claims.get(username_key)
    return _read_path(claims, username_key)


def username_from_claims(claims: Mapping[str, Any], username_key: UsernameKey) -> str:
    """The username for a verified launch.

    Falls back to ``sub`` (the platform's opaque, stable user id) when the configured
    claim is missing or empty, as privacy-restricted launches omit email and name. A
    launch without either is refused: the platform did not tell us who this is.
    """
    value = read_username_claim(claims, username_key)
    if not _usable(value):
        value = claims.get("sub")
    if not _usable(value):
        key_name = getattr(username_key, "__name__", username_key)
        if isinstance(key_name, str) and key_name.startswith(CUSTOM_PREFIX):
            key_name = key_name[len(CUSTOM_PREFIX) :]  # as the established plugin names it
        raise LoginError(
            f"Unable to set the username with username_key {key_name}",
            hint="The launch carries neither that claim nor a 'sub' claim: ask the LMS "
            "administrator to share the user's identity with this tool.",
        )
    return str(value).strip()
