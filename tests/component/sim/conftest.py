"""Fixtures for tests of the embedded exchange's server: a running exchange on 127.0.0.1 and signed sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import Clock, SimClock
from kalshi_mm.sim.server import EmbeddedExchange, SimAccount
from kalshi_mm.testing.conformance import validate_rest_response


class SignedSession:
    """Signs every request like Kalshi's SDK (the production client arrives with its own issue) and validates
    every response against the OpenAPI subset."""

    def __init__(self, base_url: str, account: SimAccount | None, clock: Clock, *, validate: bool = True):
        self.base_url = base_url
        self.account = account
        self.clock = clock
        self.validate = validate
        self.http = requests.Session()
        self.responses: list[tuple[str, str, int]] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect: int | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> Any:
        url = self.base_url + path
        headers = {}
        if self.account is not None:
            private = key or self.account.private_key
            assert private is not None
            headers = auth_headers(self.account.access_key, private, self.clock.time_ms(), method, url)
        response = self.http.request(method, url, params=params, json=json, headers=headers, timeout=10)
        body = response.json() if response.content else None
        if self.validate:
            validate_rest_response(method, path, response.status_code, body)
        self.responses.append((method, path, response.status_code))
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, body)
        return body

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock(start=1_795_000_000.0)  # 2026-11-18, a fixed instant


@pytest.fixture
def embedded(sim_clock: SimClock) -> Iterator[EmbeddedExchange]:
    """The default scenario on ephemeral ports, its market stepping only when a test advances the clock."""
    server = EmbeddedExchange(sim_clock, scenario="default", seed=7).start()
    try:
        yield server
    finally:
        server.stop()
