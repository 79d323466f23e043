"""Credentials from the environment, and the choice of exchange endpoint.

Secrets come only from the environment (or ``.env``, loaded by the app with python-dotenv): never from
config.yaml. The private key is loaded and checked at start-up; no error message, repr or log line ever
contains it (errors name the variable and the kind of failure only).

Endpoint rules (``--exchange`` or ``exchange.environment``):

* ``sim``: the embedded exchange, whatever credentials are set.
* ``demo`` / ``prod``: Kalshi, credentials required; ``KALSHI_BASE_URL`` / ``KALSHI_WS_URL`` override the
  configured URLs when set.
* ``auto``: no credentials -> the embedded exchange; credentials and ``KALSHI_BASE_URL`` -> that URL;
  credentials without a URL -> refused, because real money must never be a silent default.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = [
    "Credentials",
    "CredentialsError",
    "EndpointKind",
    "ExchangeEndpoint",
    "load_credentials",
    "resolve_endpoint",
    "ws_url_for_rest_url",
]

ENV_ACCESS_KEY = "KALSHI_ACCESS_KEY"
ENV_PRIVATE_KEY = "KALSHI_PRIVATE_KEY"
ENV_BASE_URL = "KALSHI_BASE_URL"
ENV_WS_URL = "KALSHI_WS_URL"

_PEM_MARKER = "-----BEGIN"
_MIN_RSA_BITS = 2048


class CredentialsError(Exception):
    """Credentials or endpoint choice are unusable. The message never contains key material."""


@dataclass(frozen=True)
class Credentials:
    """An API key id and its loaded RSA private key. ``repr`` masks both."""

    access_key: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    # The exact strings the key was given as, so the log redactor can recognise and remove them.
    secret_texts: tuple[str, ...] = field(repr=False, default=())

    def __repr__(self) -> str:
        return f"Credentials(access_key={mask_key_id(self.access_key)!r}, private_key=<RSA {self.key_bits}-bit>)"

    @property
    def key_bits(self) -> int:
        return self.private_key.key_size


def mask_key_id(access_key: str) -> str:
    """Show enough of a key id to tell keys apart in logs, not enough to matter: ``abcd…(36 chars)``."""
    return f"{access_key[:4]}…({len(access_key)} chars)"


def _load_private_key(raw: str) -> tuple[rsa.RSAPrivateKey, tuple[str, ...]]:
    text = raw.strip()
    if text.startswith(_PEM_MARKER) or "\\n" in text:
        # .env files and Fly secrets often carry the PEM on one line with literal "\n".
        pem = text.replace("\\n", "\n")
        source = "PEM text"
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise CredentialsError(f"{ENV_PRIVATE_KEY}: no PEM file at the given path ({path})")
        try:
            pem = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialsError(
                f"{ENV_PRIVATE_KEY}: cannot read the PEM file {path} ({type(exc).__name__})"
            ) from None
        source = f"PEM file {path}"
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        # The library's message can quote parts of its input: report only the exception type.
        raise CredentialsError(
            f"{ENV_PRIVATE_KEY}: the {source} is not an unencrypted PEM private key ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm and others for odd keys
        raise CredentialsError(f"{ENV_PRIVATE_KEY}: the {source} could not be loaded ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(
            f"{ENV_PRIVATE_KEY}: the {source} holds a {type(key).__name__}, Kalshi signing needs RSA"
        )
    if key.key_size < _MIN_RSA_BITS:
        raise CredentialsError(f"{ENV_PRIVATE_KEY}: RSA key of {key.key_size} bits, at least {_MIN_RSA_BITS} needed")
    secrets = tuple(s for s in {raw, text, pem, pem.strip()} if s)
    return key, secrets


def load_credentials(env: Mapping[str, str]) -> Credentials | None:
    """Read ``KALSHI_ACCESS_KEY`` and ``KALSHI_PRIVATE_KEY``; None when neither is set."""
    access_key = env.get(ENV_ACCESS_KEY, "").strip()
    private_raw = env.get(ENV_PRIVATE_KEY, "").strip()
    if not access_key and not private_raw:
        return None
    if not access_key:
        raise CredentialsError(f"{ENV_PRIVATE_KEY} is set but {ENV_ACCESS_KEY} is not: set both or neither")
    if not private_raw:
        raise CredentialsError(f"{ENV_ACCESS_KEY} is set but {ENV_PRIVATE_KEY} is not: set both or neither")
    key, secrets = _load_private_key(private_raw)
    return Credentials(access_key=access_key, private_key=key, secret_texts=secrets)


class EndpointKind(enum.Enum):
    SIM = "sim"  # the embedded exchange, started by the app on 127.0.0.1
    DEMO = "demo"
    PROD = "prod"
    CUSTOM = "custom"  # KALSHI_BASE_URL: e.g. an embedded exchange started on its own


@dataclass(frozen=True)
class ExchangeEndpoint:
    """Where to trade. ``rest_url``/``ws_url`` are None for SIM: the app starts the exchange and learns its port."""

    kind: EndpointKind
    rest_url: str | None
    ws_url: str | None

    @property
    def real_money(self) -> bool:
        return self.kind is EndpointKind.PROD


def ws_url_for_rest_url(rest_url: str) -> str:
    """Derive the WebSocket URL Kalshi pairs with a REST base: https→wss, ``/trade-api/v2`` → ``/trade-api/ws/v2``."""
    parts = urlsplit(rest_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme)
    if scheme is None:
        raise CredentialsError(f"{ENV_BASE_URL}: expected an http(s) URL, got scheme {parts.scheme!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/trade-api/v2"):
        path = path[: -len("/trade-api/v2")] + "/trade-api/ws/v2"
    else:
        raise CredentialsError(f"{ENV_BASE_URL}: expected a URL ending in /trade-api/v2, got path {parts.path!r}")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise CredentialsError(f"{name}: expected a {'/'.join(schemes)} URL with a host, got {url!r}")
    return url.rstrip("/")


def resolve_endpoint(
    choice: str,
    credentials: Credentials | None,
    env: Mapping[str, str],
    configured: Mapping[str, tuple[str, str]],
) -> ExchangeEndpoint:
    """Decide where to trade.

    ``choice`` is auto|sim|demo|prod; ``configured`` maps "demo"/"prod" to (rest_url, ws_url) from config.
    """
    base_url = env.get(ENV_BASE_URL, "").strip()
    ws_url = env.get(ENV_WS_URL, "").strip()
    if base_url:
        base_url = _check_url(ENV_BASE_URL, base_url, ("https", "http"))
    if ws_url:
        ws_url = _check_url(ENV_WS_URL, ws_url, ("wss", "ws"))
    if ws_url and not base_url:
        raise CredentialsError(f"{ENV_WS_URL} is set without {ENV_BASE_URL}: set both, or neither")

    if choice == "sim":
        return ExchangeEndpoint(EndpointKind.SIM, None, None)
    if choice in ("demo", "prod"):
        if credentials is None:
            raise CredentialsError(
                f"--exchange {choice} needs credentials: set {ENV_ACCESS_KEY} and {ENV_PRIVATE_KEY} (see .env.example)"
            )
        rest, ws = configured[choice]
        if base_url:
            rest, ws = base_url, ws_url or ws_url_for_rest_url(base_url)
        return ExchangeEndpoint(EndpointKind(choice), rest, ws)
    if choice != "auto":
        raise CredentialsError(f"exchange: unknown choice {choice!r} (auto, sim, demo or prod)")
    if credentials is None:
        if base_url:
            raise CredentialsError(
                f"{ENV_BASE_URL} is set but no credentials are: set {ENV_ACCESS_KEY} and {ENV_PRIVATE_KEY}, "
                f"or unset {ENV_BASE_URL} to trade against the embedded exchange"
            )
        return ExchangeEndpoint(EndpointKind.SIM, None, None)
    if base_url:
        return ExchangeEndpoint(EndpointKind.CUSTOM, base_url, ws_url or ws_url_for_rest_url(base_url))
    raise CredentialsError(
        "credentials are set but no exchange is chosen: pass --exchange demo or --exchange prod "
        f"(or set exchange.environment, or {ENV_BASE_URL}); real money is never a silent default"
    )
