"""OAuth 1.0a HMAC-SHA1 signatures of LTI 1.1 launches (RFC 5849, section 3.4).

LTI 1.1 signs the launch form with the consumer secret: the signature base string is the
method, the launch URL without its query, and every form and query parameter except
``oauth_signature``, each part percent-encoded. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Iterable, Tuple
from urllib.parse import quote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class LaunchURLError(ValueError):
    """The launch URL rebuilt from the request cannot be used (a hostile ``Host``, say)."""


def percent_encode(value: str) -> str:
    """RFC 5849 section 3.6: UTF-8, then everything but ``A-Z a-z 0-9 - . _ ~`` escaped."""
    return quote(value.encode("utf-8"), safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 section 3.4.1.2: lower-case scheme and host, no default port, no query."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise LaunchURLError(f"the launch URL is malformed ({e})") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise LaunchURLError("the launch URL needs an http(s) scheme and a host")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def normalized_parameters(params: Iterable[Tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1.3.2: encode, sort by name then value, join."""
    encoded = sorted(
        (percent_encode(name), percent_encode(value))
        for name, value in params
        if name != "oauth_signature"
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, url: str, params: Iterable[Tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: ``METHOD&uri&parameters``, each part encoded again."""
    return "&".join(
        (
            percent_encode(method.upper()),
            percent_encode(base_string_uri(url)),
            percent_encode(normalized_parameters(params)),
        )
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str = "") -> str:
    """RFC 5849 section 3.4.2: base64 of HMAC-SHA1 keyed with ``secret&token_secret``."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base_string.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signatures_match(expected: str, given: str) -> bool:
    """Compare in constant time, so the time taken does not leak how much matched."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
