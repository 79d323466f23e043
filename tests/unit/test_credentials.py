"""Credentials from the environment and the exchange-endpoint decision table."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kalshi_mm.config.credentials import (
    Credentials,
    CredentialsError,
    EndpointKind,
    load_credentials,
    resolve_endpoint,
    ws_url_for_rest_url,
)

CONFIGURED = {
    "demo": (
        "https://external-api.demo.kalshi.co/trade-api/v2",
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
    "prod": (
        "https://external-api.kalshi.com/trade-api/v2",
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    ),
}
KEY_ID = "0b7c3a8e-1111-2222-3333-444455556666"


def test_no_credentials_is_none() -> None:
    assert load_credentials({}) is None
    assert load_credentials({"KALSHI_ACCESS_KEY": "  ", "KALSHI_PRIVATE_KEY": ""}) is None


def test_key_from_path_and_from_one_line_pem(rsa_pem_file: Path, rsa_pem: str) -> None:
    from_path = load_credentials({"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": str(rsa_pem_file)})
    one_line = rsa_pem.replace("\n", "\\n")
    from_text = load_credentials({"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": one_line})
    assert isinstance(from_path, Credentials) and isinstance(from_text, Credentials)
    assert from_path.private_key.private_numbers() == from_text.private_key.private_numbers()
    assert from_text.key_bits == 2048
    assert rsa_pem.splitlines()[1] not in repr(from_text)
    assert KEY_ID not in repr(from_text)


def _assert_error_without_secret(env: dict[str, str], secret: str, match: str) -> None:
    with pytest.raises(CredentialsError, match=match) as info:
        load_credentials(env)
    message = str(info.value)
    for line in secret.replace("\\n", "\n").splitlines():
        if len(line) >= 16:
            assert line not in message


@pytest.mark.parametrize("missing", ["KALSHI_ACCESS_KEY", "KALSHI_PRIVATE_KEY"])
def test_half_configured_is_an_error(missing: str, rsa_pem: str) -> None:
    env = {"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": rsa_pem}
    del env[missing]
    _assert_error_without_secret(env, rsa_pem, missing)


def test_bad_keys_give_clear_errors_that_never_echo_the_key(tmp_path: Path, rsa_pem: str, make_pem) -> None:  # type: ignore[no-untyped-def]
    corrupt = rsa_pem.replace(rsa_pem.splitlines()[5], "A" * 64)
    _assert_error_without_secret(
        {"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": corrupt}, corrupt, "KALSHI_PRIVATE_KEY"
    )
    _assert_error_without_secret(
        {"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": str(tmp_path / "nope.pem")}, "", "no PEM file"
    )
    ec_pem = make_pem(ec.generate_private_key(ec.SECP256R1()))
    _assert_error_without_secret({"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": ec_pem}, ec_pem, "needs RSA")
    small = make_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    _assert_error_without_secret({"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": small}, small, "1024 bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    _assert_error_without_secret(
        {"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": encrypted}, encrypted, "unencrypted"
    )


@pytest.fixture
def creds(rsa_pem: str) -> Credentials:
    result = load_credentials({"KALSHI_ACCESS_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": rsa_pem})
    assert result is not None
    return result


LOCAL = "http://127.0.0.1:8123/trade-api/v2"


@pytest.mark.parametrize(
    ("choice", "has_creds", "env", "kind", "rest"),
    [
        ("auto", False, {}, EndpointKind.SIM, None),
        ("auto", True, {"KALSHI_BASE_URL": LOCAL}, EndpointKind.CUSTOM, LOCAL),
        ("sim", True, {}, EndpointKind.SIM, None),
        ("demo", True, {}, EndpointKind.DEMO, CONFIGURED["demo"][0]),
        ("prod", True, {}, EndpointKind.PROD, CONFIGURED["prod"][0]),
        ("demo", True, {"KALSHI_BASE_URL": LOCAL}, EndpointKind.DEMO, LOCAL),
    ],
)
def test_endpoint_decisions(
    choice: str,
    has_creds: bool,
    env: dict[str, str],
    kind: EndpointKind,
    rest: str | None,
    creds: Credentials,
) -> None:
    endpoint = resolve_endpoint(choice, creds if has_creds else None, env, CONFIGURED)
    assert endpoint.kind is kind
    assert endpoint.rest_url == rest
    assert endpoint.real_money == (kind is EndpointKind.PROD)
    if rest is not None:
        assert endpoint.ws_url is not None and endpoint.ws_url.endswith("/trade-api/ws/v2")


@pytest.mark.parametrize(
    ("choice", "has_creds", "env", "match"),
    [
        ("auto", True, {}, "real money is never a silent default"),
        ("demo", False, {}, "needs credentials"),
        ("prod", False, {}, "needs credentials"),
        ("auto", False, {"KALSHI_BASE_URL": LOCAL}, "no credentials"),
        ("auto", True, {"KALSHI_BASE_URL": "ftp://x/trade-api/v2"}, "KALSHI_BASE_URL"),
        ("auto", True, {"KALSHI_WS_URL": "wss://x/trade-api/ws/v2"}, "KALSHI_WS_URL"),
    ],
)
def test_endpoint_refusals(choice: str, has_creds: bool, env: dict[str, str], match: str, creds: Credentials) -> None:
    with pytest.raises(CredentialsError, match=match):
        resolve_endpoint(choice, creds if has_creds else None, env, CONFIGURED)


def test_ws_url_derivation() -> None:
    assert ws_url_for_rest_url(LOCAL) == "ws://127.0.0.1:8123/trade-api/ws/v2"
    assert ws_url_for_rest_url("https://demo-api.kalshi.co/trade-api/v2/") == "wss://demo-api.kalshi.co/trade-api/ws/v2"
    with pytest.raises(CredentialsError):
        ws_url_for_rest_url("https://example.com/api")
