"""Kalshi request signing (NOTES.md §1), as pure functions: no clock, no I/O.

The string to sign is ``timestamp_ms + METHOD + path`` where path includes ``/trade-api/v2`` and excludes the
query string; the body is not signed. The signature is RSA-PSS with SHA-256, MGF1(SHA-256) and a salt as long
as the digest, base64-encoded. PSS is randomized, so a verifier must verify, never compare bytes.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "auth_headers",
    "message_to_sign",
    "sign",
    "verify",
]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def message_to_sign(timestamp_ms: int, method: str, path_or_url: str) -> bytes:
    """``timestamp_ms + METHOD + path``; a full URL or a path with a query string is reduced to its path."""
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?", 1)[0]
    return f"{timestamp_ms}{method.upper()}{path}".encode()


def sign(private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path_or_url: str) -> str:
    """The base64 RSA-PSS signature Kalshi expects in ``KALSHI-ACCESS-SIGNATURE``."""
    raw = private_key.sign(message_to_sign(timestamp_ms, method, path_or_url), _PSS, hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, signature_b64: str, timestamp_ms: int, method: str, path: str) -> bool:
    """True if ``signature_b64`` is a valid signature of the request by the holder of ``public_key``."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, message_to_sign(timestamp_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def auth_headers(
    access_key: str, private_key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path_or_url: str
) -> dict[str, str]:
    """The three authentication headers for one request (REST, or the WebSocket upgrade)."""
    return {
        HEADER_KEY: access_key,
        HEADER_TIMESTAMP: str(timestamp_ms),
        HEADER_SIGNATURE: sign(private_key, timestamp_ms, method, path_or_url),
    }
