"""The embedded exchange's side of Kalshi authentication: registered keys and signature checks (NOTES.md §1).

A request is authenticated when it carries the three ``KALSHI-ACCESS-*`` headers, the key id is registered,
the timestamp is within ``max_skew_ms`` of the server's clock, and the RSA-PSS signature verifies over
``timestamp + METHOD + path`` (path without query; the body is not signed). Anything else is a 401.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalshi_mm.api.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify

__all__ = ["AuthError", "KeyRegistry", "RegisteredKey"]

# Kalshi does not document its tolerance; 30 s rejects replays of old captures without tripping on clock drift.
DEFAULT_MAX_SKEW_MS = 30_000


class AuthError(Exception):
    """Authentication failed; ``reason`` is safe to return to the client (it never contains the signature)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RegisteredKey:
    access_key: str
    user_id: str
    public_key: rsa.RSAPublicKey


class KeyRegistry:
    """API keys known to the exchange. ``_lock`` guards ``_keys``."""

    def __init__(self, max_skew_ms: int = DEFAULT_MAX_SKEW_MS):
        self.max_skew_ms = max_skew_ms
        self._keys: dict[str, RegisteredKey] = {}
        self._lock = threading.Lock()

    def register(self, user_id: str, public_key: rsa.RSAPublicKey, access_key: str | None = None) -> str:
        """Register ``public_key`` for ``user_id``; returns the access key id (a fresh UUID unless given)."""
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise TypeError(f"Kalshi signing needs an RSA public key, got {type(public_key).__name__}")
        key_id = access_key or str(uuid.uuid4())
        with self._lock:
            self._keys[key_id] = RegisteredKey(key_id, user_id, public_key)
        return key_id

    def register_pem(self, user_id: str, public_pem: bytes, access_key: str | None = None) -> str:
        key = load_pem_public_key(public_pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError(f"Kalshi signing needs an RSA public key, got {type(key).__name__}")
        return self.register(user_id, key, access_key)

    def authenticate(self, headers: Mapping[str, str], method: str, path: str, now_ms: int) -> str:
        """The user id of a correctly signed request, else :class:`AuthError`. ``headers`` lookup is as given."""
        key_id = headers.get(HEADER_KEY)
        timestamp = headers.get(HEADER_TIMESTAMP)
        signature = headers.get(HEADER_SIGNATURE)
        if not key_id or not timestamp or not signature:
            raise AuthError("missing authentication headers")
        with self._lock:
            registered = self._keys.get(key_id)
        if registered is None:
            raise AuthError("unknown API key")
        # ASCII only (isdigit() takes "²", which int() refuses) and bounded (int() refuses 4,300+ digits): a 401,
        # never a 500.
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 19:
            raise AuthError("malformed timestamp")
        if abs(int(timestamp) - now_ms) > self.max_skew_ms:
            raise AuthError("timestamp outside the allowed window")
        if not verify(registered.public_key, signature, int(timestamp), method, path):
            raise AuthError("invalid signature")
        return registered.user_id
