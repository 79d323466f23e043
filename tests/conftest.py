"""Shared fixtures: throwaway RSA keys (never real credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def pem_of(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return pem_of(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)


@pytest.fixture
def rsa_pem_file(tmp_path: Path, rsa_pem: str) -> Path:
    path = tmp_path / "kalshi.key"
    path.write_text(rsa_pem)
    return path


@pytest.fixture(scope="session")
def make_pem():  # type: ignore[no-untyped-def]
    """The PEM text of a key, for tests that need keys in other formats or types."""
    return pem_of
