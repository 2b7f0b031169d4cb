"""Claims → username: a pure function, before JupyterHub's ``normalize_username``."""

from __future__ import annotations

from typing import Any, Mapping

from .constants import CUSTOM_CLAIM
from .error import LoginError

CUSTOM_PREFIX = "custom_"


def _usable(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.strip() != ""
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def read_username_claim(claims: Mapping[str, Any], username_key: str) -> Any:
    """The value ``username_key`` points at, or None.

    ``custom_<name>`` reads ``<name>`` inside the LTI custom claim (only the first
    ``custom_`` is stripped, so ``custom_custom_id`` reads ``custom_id``); any other key
    reads the top-level claim of that name.
    """
    if username_key.startswith(CUSTOM_PREFIX):
        custom = claims.get(CUSTOM_CLAIM)
        if not isinstance(custom, Mapping):
            return None
        return custom.get(username_key[len(CUSTOM_PREFIX) :])
    return claims.get(username_key)


def username_from_claims(claims: Mapping[str, Any], username_key: str) -> str:
    """The username for a verified launch.

    Falls back to ``sub`` (the platform's opaque, stable user id) when the configured
    claim is missing or empty, as privacy-restricted launches omit email and name. A
    launch without either is refused: the platform did not tell us who this is.
    """
    value = read_username_claim(claims, username_key)
    if not _usable(value):
        value = claims.get("sub")
    if not _usable(value):
        raise LoginError(
            f"Unable to set the username with username_key {username_key}: the launch "
            "carries neither that claim nor a 'sub' claim.",
            hint="Ask the LMS administrator to share the user's identity with this tool.",
        )
    return str(value).strip()
