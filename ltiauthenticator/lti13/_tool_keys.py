"""The tool's own signing key(s), published at ``/lti13/jwks``.

Canvas (installing by config URL), Blackboard and Schoology ask for the tool's public key
or JWKS URL at registration. The private key comes from, in order: a PEM value in
config (e.g. from a Kubernetes secret), a PEM file, or a key generated once and
persisted to that file with owner-only permissions, so restarts keep the same key.
Extra PEM files are published too, for rotation (the next key, or the previous one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _thumbprint(public_jwk: Dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a stable kid derived from the key itself."""
    canonical = json.dumps(
        {k: public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(private_or_public_pem: bytes) -> Dict[str, Any]:
    """The public JWK (with ``kid``, ``alg``, ``use``) of a PEM-encoded RSA key."""
    try:
        key: Any = serialization.load_pem_private_key(private_or_public_pem, password=None)
        key = key.public_key()
    except (ValueError, TypeError):
        key = serialization.load_pem_public_key(private_or_public_pem)
    return _jwk_of(key)


def _jwk_of(public_key: Any) -> Dict[str, Any]:
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the tool key must be an RSA key")
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    jwk.update(kid=_thumbprint(jwk), alg="RS256", use="sig")
    return jwk


def generate_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create_private_key(pem_value: str, path: str, log: Any = None) -> bytes:
    """The tool's private key PEM: the configured value, the file, or a new persisted key.

    Two hub processes starting at once may both find no file: the one that loses the
    race to create it reads the winner's key instead.
    """
    if pem_value.strip():
        return pem_value.strip().encode()
    key_path = Path(path)
    if not key_path.exists():
        pem = generate_private_key_pem()
        key_path.parent.mkdir(parents=True, exist_ok=True)
        # created owner-only from the first byte: never briefly world-readable
        try:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it meanwhile: use theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            return pem
    return _read_key_file(key_path, log)


def _read_key_file(key_path: Path, log: Any) -> bytes:
    mode = key_path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and log is not None:
        log.warning(
            "The tool's private key file %s can be read by other users (mode %o); "
            "restrict it with: chmod 600 %s",
            key_path,
            mode & 0o777,
            key_path,
        )
    for _ in range(50):  # a file another process is still writing: give it a moment
        pem = key_path.read_bytes()
        if pem.strip().endswith(b"-----"):
            return pem
        time.sleep(0.02)
    raise ValueError(
        f"LTI13Authenticator.tool_private_key_file {str(key_path)!r} is empty or not a PEM "
        "key; delete it to have a new key generated, or put the tool's key there"
    )


def tool_key_set(signer: ToolSigner, extra_pem_paths: Iterable[str]) -> Dict[str, List[Dict]]:
    """The JWKS document: the current key (the signer's) first, then the rotation keys."""
    keys = [signer.public_jwk]
    for path in extra_pem_paths:
        keys.append(public_jwk(Path(path).read_bytes()))
    return {"keys": keys}


class ToolSigner:
    """Signs the tool's own JWTs (deep linking responses, service token assertions) with
    the current tool key, naming it by the ``kid`` published at ``/lti13/jwks``."""

    def __init__(self, private_pem: bytes) -> None:
        # parsing checks the RSA key, ~35 ms of CPU: once per key
        self._key = serialization.load_pem_private_key(private_pem, password=None)
        self.public_jwk = _jwk_of(self._key.public_key())
        self.kid: str = self.public_jwk["kid"]

    def sign(self, claims: Dict[str, Any], headers: Optional[Dict[str, Any]] = None) -> str:
        """A compact RS256 JWS over ``claims`` (JSON), with ``kid`` and ``typ: JWT``."""
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )
