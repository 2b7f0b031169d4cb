#!/usr/bin/env python
"""CPU per launch spent verifying the id_token, against a bare RS256 signature check.

Signs a real id_token with the platform emulator's :class:`EmulatedPlatform`, warms the
validator's key cache once (through the cache's network seam, ``JWKSCache.fetch``,
which here returns the emulator's JWKS document instead of going to the network), then
times, with ``time.process_time`` over many iterations:

1. ``LTI13LaunchValidator.verify_and_decode_jwt`` (parse, header checks, cached key
   lookup, RS256 signature, payload decode, iss/aud/exp/iat/max_age checks);
2. the same plus ``validate_azp_claim`` and ``validate_id_token`` (the rest of the
   validator's token checks the callback runs);
3. PyJWT's ``jwt.decode`` with the key preloaded (reference: what a plain library call
   costs, without any LTI checks);
4. a bare ``public_key.verify(signature, signing_input, PKCS1v15(), SHA256())`` with
   the same preloaded key over the same token.

Prints µs per call and the ratios to the bare verify. No assertions.
Run: ``python benchmarks/verify_cost.py [--iterations 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from typing import Any, Callable, Optional, Tuple

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch, ToolRegistration

ISSUER = "https://lms.example.edu"
CLIENT_ID = "jupyterhub-tool"
JWKS_URL = ISSUER + "/jwks"


def make_platform() -> EmulatedPlatform:
    hub = "https://hub.example.edu"
    tool = ToolRegistration(
        client_id=CLIENT_ID,
        login_url=f"{hub}/hub/lti13/oauth_login",
        redirect_uris=[f"{hub}/hub/lti13/oauth_callback"],
        target_link_uri=f"{hub}/hub/",
    )
    return EmulatedPlatform(ISSUER, tool)


def make_validator(platform: EmulatedPlatform) -> LTI13LaunchValidator:
    validator = LTI13LaunchValidator()
    body = json.dumps(platform.jwks()).encode()
    fetches = []

    async def fetch(url: str) -> Tuple[bytes, Optional[str]]:  # the key cache's network seam
        fetches.append(url)
        return body, "max-age=3600"

    validator.key_cache.fetch = fetch  # type: ignore[method-assign]
    validator.key_cache.fetch_calls = fetches  # type: ignore[attr-defined]
    return validator


def measure(fn: Callable[[], Any], iterations: int) -> float:
    """CPU µs per call (process time; best of three batches)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(iterations):
            fn()
        best = min(best, (time.process_time() - start) / iterations)
    return best * 1e6


async def measure_async(fn: Callable[[], Any], iterations: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(iterations):
            await fn()
        best = min(best, (time.process_time() - start) / iterations)
    return best * 1e6


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


async def run(iterations: int) -> None:
    platform = make_platform()
    launch = Launch(user="student1", role="student", exp_seconds=3600)
    token = platform.id_token_for(launch, nonce="n-" + "0" * 62)
    validator = make_validator(platform)

    def verify() -> Any:
        return validator.verify_and_decode_jwt(token, ISSUER, [CLIENT_ID], JWKS_URL, ["RS256"])

    # the launch handler's order: the key into the cache (one seam fetch), then the checks
    key = await validator.key_cache.get_signing_key(JWKS_URL, platform.signing_kid, "RS256")
    claims = verify()

    async def verify_async() -> Any:
        return verify()

    async def full_chain() -> Any:
        c = verify()
        validator.validate_azp_claim(c, [CLIENT_ID])
        validator.validate_id_token(c)
        return c

    header_b64, payload_b64, signature_b64 = token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = b64url_decode(signature_b64)

    def bare() -> None:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())

    def pyjwt_decode() -> Any:
        return jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=ISSUER)

    # warm-up
    for _ in range(200):
        verify()
        bare()

    ours = await measure_async(verify_async, iterations)
    chain = await measure_async(full_chain, iterations)
    reference = measure(pyjwt_decode, iterations)
    raw = measure(bare, iterations)

    print(
        f"# id_token: {len(token)} chars, RS256 2048-bit key, {len(claims)} claims; "
        f"{iterations} iterations x 3 batches (best), time.process_time; key cache "
        f"fetches during the loop: {len(validator.key_cache.fetch_calls) - 1}"
    )
    rows = [
        ("verify_and_decode_jwt (warm key cache)", ours),
        ("  + validate_azp_claim + validate_id_token", chain),
        ("PyJWT jwt.decode, preloaded key", reference),
        ("bare RS256 public_key.verify, preloaded key", raw),
    ]
    for label, us in rows:
        print(f"{label:46} {us:8.1f} µs/launch   {us / raw:5.2f}x bare")
    print(
        f"overhead of our verification over the bare signature check: {ours - raw:.1f} µs "
        f"({ours / raw:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(run(args.iterations))


if __name__ == "__main__":
    main()
