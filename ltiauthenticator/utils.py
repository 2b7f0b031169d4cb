"""Request helpers shared by the LTI handlers.

This module is public API (kept from the established plugin) and imports nothing from
``ltiauthenticator.lti13``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Union

from tornado.httputil import HTTPServerRequest

ArgValue = Union[str, List[str]]


def get_browser_protocol(request: HTTPServerRequest) -> str:
    """Return the scheme ("http" or "https") the browser used to reach the hub.

    Reverse proxies report the original scheme in ``X-Forwarded-Proto`` or ``X-Scheme``.
    When a request passed several proxies, ``X-Forwarded-Proto`` is a comma separated
    list whose first entry is the scheme the browser used; it wins over ``X-Scheme``.
    """
    for header in ("X-Forwarded-Proto", "X-Scheme"):
        value = request.headers.get(header, "")
        first_hop = value.split(",", 1)[0].strip().lower()
        if first_hop in ("http", "https"):
            return first_hop
    return request.protocol


def convert_request_to_dict(arguments: Dict[str, List[bytes]]) -> Dict[str, Any]:
    """Turn tornado's ``request.arguments`` into ``{name: first value as str}``.

    The established plugin's helper, unchanged. The LTI handlers use
    :func:`arguments_with_repeats` instead, so that a repeated parameter is refused
    rather than silently resolved to its first value.
    """
    return {
        name: values[0].decode("utf-8", errors="replace")
        for name, values in arguments.items()
        if values
    }


def arguments_with_repeats(arguments: Dict[str, List[bytes]]) -> Dict[str, Any]:
    """Like :func:`convert_request_to_dict`, but a parameter given several times maps to
    the list of its values. Bytes that are not UTF-8 are replaced (U+FFFD), which later
    checks reject as malformed rather than crashing on them.
    """
    converted: Dict[str, ArgValue] = {}
    for name, values in arguments.items():
        decoded = [value.decode("utf-8", errors="replace") for value in values]
        converted[name] = decoded[0] if len(decoded) == 1 else decoded
    return converted
