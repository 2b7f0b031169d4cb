"""Compact JWS parsing and signature checks, without any network or clock.

The token is taken apart strictly before anything trusts it: exactly three base64url
segments, a JSON object header and payload without duplicate names, UTF-8 only. The
signature is verified with PyJWT's algorithm implementations (backed by
``cryptography``) against a key the caller chose from the platform's key set; header
fields that point at other keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are ignored.
"""

from __future__ import annotations

import binascii
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict

from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError

from .error import TokenError

_B64URL_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ParsedToken:
    header: Dict[str, Any]
    payload_segment: str
    signing_input: bytes
    signature: bytes


def _reject_duplicate_names(pairs: list) -> Dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise TokenError("The id_token contains a JSON object with duplicate member names.")
    return obj


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser would accept them.
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with a hook would build a new decoder on every call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicate_names, parse_constant=_reject_constant
)
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_STRICT_BASE64 = sys.version_info >= (3, 11)  # binascii's strict_mode


def _b64url_decode(segment: str, what: str) -> bytes:
    invalid = TokenError(f"The id_token's {what} is not valid base64url.")
    if not _STRICT_BASE64 and not _B64URL_SEGMENT.match(segment):
        raise invalid
    try:
        data = segment.encode("ascii")
    except UnicodeEncodeError:
        raise invalid from None
    if not data or b"+" in data or b"/" in data or b"=" in data:
        raise invalid  # standard-alphabet or padded input is not base64url
    padded = data.translate(_TO_STANDARD_ALPHABET) + b"=" * (-len(data) % 4)
    try:
        if _STRICT_BASE64:
            return binascii.a2b_base64(padded, strict_mode=True)
        return binascii.a2b_base64(padded)
    except (binascii.Error, ValueError):
        raise invalid from None


def _json_object(raw: bytes, what: str) -> Dict[str, Any]:
    try:
        value = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise TokenError(f"The id_token's {what} is not UTF-8.") from None
    except (ValueError, RecursionError):
        raise TokenError(f"The id_token's {what} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise TokenError(f"The id_token's {what} is not a JSON object.")
    return value


def parse_compact(token: str) -> ParsedToken:
    """Split a compact JWS and decode its header; the payload waits for the signature."""
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenError("The id_token is not a JWT (expected three dot-separated parts).")
    header_segment, payload_segment, signature_segment = segments
    header = _json_object(_b64url_decode(header_segment, "header"), "header")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient that does not understand every listed extension
        # must reject the token; this tool understands none.
        raise TokenError(
            "The id_token's header lists critical extensions (crit) this tool does not support.",
            reason="crit_header",
        )
    signature = _b64url_decode(signature_segment, "signature")
    return ParsedToken(
        header=header,
        payload_segment=payload_segment,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=signature,
    )


_ALGORITHMS = get_default_algorithms()


def verify_signature(parsed: ParsedToken, public_key: Any, alg: str) -> Dict[str, Any]:
    """Check the signature with ``public_key`` under ``alg``; return the decoded payload.

    ``alg`` must already be one the caller accepts and the key's type must fit it (the
    key cache guarantees both); a mismatch simply fails verification.
    """
    try:
        valid = _ALGORITHMS[alg].verify(parsed.signing_input, public_key, parsed.signature)
    except (KeyError, InvalidKeyError, ValueError, TypeError):
        valid = False
    if not valid:
        raise TokenError(
            "Signature verification failed",
            reason="bad_signature",
            hint="The id_token's signature does not verify with the platform's key.",
        )
    return decode_payload(parsed)


def decode_payload(parsed: ParsedToken) -> Dict[str, Any]:
    """The claims, strictly decoded (verified only if the caller verified the signature)."""
    return _json_object(_b64url_decode(parsed.payload_segment, "payload"), "payload")
