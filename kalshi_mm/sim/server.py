"""The embedded exchange assembled: matching engine + simulated market + REST server on 127.0.0.1.

:class:`EmbeddedExchange` is what the runner starts in-process when no credentials are configured, what
``python -m kalshi_mm.sim`` starts standalone, and what the tests and benchmarks run against. It speaks
Kalshi's wire format under ``/trade-api/v2``, so the daemon's real client cannot tell it from Kalshi.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_mm.clock import Clock
from kalshi_mm.sim.admin import AdminApi
from kalshi_mm.sim.auth import KeyRegistry
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.faults import FaultConfig, FaultInjector, TrafficStats
from kalshi_mm.sim.history import MarketHistory
from kalshi_mm.sim.http import RestApp, RestServer
from kalshi_mm.sim.rest_market import MarketDataApi
from kalshi_mm.sim.rest_portfolio import PortfolioApi
from kalshi_mm.sim.scenario import load_scenario
from kalshi_mm.sim.simulation import MarketSimulation
from kalshi_mm.sim.ws import WsServer

__all__ = ["DEFAULT_ACCOUNT_CASH_E4", "EmbeddedExchange", "SimAccount"]

log = logging.getLogger("kalshi_mm.sim")

DEFAULT_ACCOUNT_CASH_E4 = 10_000 * 10_000  # $10,000 of paper money
# Without a market simulation nothing else calls tick(): expiries, closes and settlements need a heartbeat.
LIFECYCLE_TICK_S = 1.0


@dataclass(frozen=True)
class SimAccount:
    """A funded account and its API key. ``private_key`` is None when the caller registered its own key."""

    user_id: str
    access_key: str
    private_key: rsa.RSAPrivateKey | None = field(repr=False, default=None)

    def private_pem(self) -> bytes:
        if self.private_key is None:
            raise ValueError("this account was registered with the caller's own public key")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


class EmbeddedExchange:
    """Exchange, optional market simulation and REST server; start() and stop() own the threads."""

    def __init__(
        self,
        clock: Clock,
        *,
        scenario: str | Path | None = "default",
        seed: int | None = None,
        tier: str = "basic",
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        auth_clock: Clock | None = None,
        faults: FaultConfig | None = None,
    ):
        self.clock = clock
        self.exchange = Exchange(clock, seed=seed or 0)
        # History listens before anything is listed, so it sees every book change from the first.
        self.history = MarketHistory(self.exchange)
        self.simulation: MarketSimulation | None = None
        volume_24h = None
        windows = None
        if scenario is not None:
            # seed None keeps the scenario's own seed.
            self.simulation = MarketSimulation(self.exchange, clock, load_scenario(scenario), seed=seed)
            simulation = self.simulation
            volume_24h = lambda ticker, _now_ms: simulation.volume_24h_e2(ticker)  # noqa: E731
            windows = simulation.maintenance_windows
        self.keys = KeyRegistry()
        self.traffic = TrafficStats()
        self.faults = FaultInjector(faults, seed=seed or 0, traffic=self.traffic)
        self.app = RestApp(clock, self.keys, tier=tier, auth_clock=auth_clock, faults=self.faults, traffic=self.traffic)
        admin = AdminApi(self.exchange, self.faults, self.traffic)
        admin.register(self.app)
        admin.apply_pause(False, self.faults.config.exchange_paused)  # a pause set at start-up
        MarketDataApi(self.exchange, self.history, volume_24h, windows).register(self.app)
        PortfolioApi(self.exchange, tier).register(self.app)
        self.rest = RestServer(self.app, host, port)
        self.ws = WsServer(
            self.exchange, self.keys, auth_clock=self.app.auth_clock, host=host, port=ws_port, faults=self.faults
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def rest_url(self) -> str:
        return self.rest.base_url

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT/trade-api/ws/v2`` (the port is known once started)."""
        return self.ws.url

    def create_account(
        self, user_id: str, cash_e4: int = DEFAULT_ACCOUNT_CASH_E4, public_key: rsa.RSAPublicKey | None = None
    ) -> SimAccount:
        """Fund ``user_id`` and register an API key: a fresh 2048-bit RSA pair unless ``public_key`` is given."""
        private_key = None
        if public_key is None:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_key = private_key.public_key()
        if user_id not in self.exchange.accounts():
            self.exchange.create_account(user_id, cash_e4)
        access_key = self.keys.register(user_id, public_key)
        return SimAccount(user_id, access_key, private_key)

    def start(self) -> EmbeddedExchange:
        self.rest.start()
        self.ws.start()
        target = self.simulation.run if self.simulation is not None else self._lifecycle_loop
        thread = threading.Thread(target=target, args=(self._stop,), name="sim-market", daemon=True)
        thread.start()
        self._threads.append(thread)
        log.info("embedded exchange serving REST at %s", self.rest_url)
        return self

    def _lifecycle_loop(self, stop: threading.Event) -> None:
        while not self.clock.wait(LIFECYCLE_TICK_S, stop):
            try:
                self.exchange.tick()
            except Exception:  # a dead heartbeat would silently stop every expiry and settlement
                log.exception("exchange lifecycle tick failed")

    def stop(self) -> None:
        self._stop.set()
        self.ws.stop()
        self.rest.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> EmbeddedExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
