"""Templates of the simulated catalogue: Kalshi-like series and how to build their events (data only).

Each :class:`SeriesTemplate` is modelled on a real Kalshi series. Per Kalshi category they are listed in the
order a scenario picks them (``catalogue.series_per_category: {Crypto: 2}`` takes the first two Crypto
templates), so the first ones are the liquid, everyday series. :mod:`kalshi_mm.sim.catalogue` turns them into
Series / Event / Market objects. Times are seconds; probabilities are model floats; no money here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kalshi_mm.sim.model import FeeType

__all__ = ["TEMPLATES", "SeriesTemplate"]

_HOUR = 3600
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class SeriesTemplate:
    """How to build one series and its events.

    ``kind``: ``ladder`` (markets ``T{strike}``: "above strike"), ``buckets`` (mutually exclusive ranges
    between ``strikes`` edges: low tail ``T``, ``B{mid}`` buckets, high tail ``T``), ``outcomes`` (mutually
    exclusive named outcomes) or ``binary`` (one market ``outcomes[0]``). Ladder and bucket probabilities come
    from a normal latent ``N(latent_mean, latent_sd)``, jittered by ``latent_jitter_sd`` per event; outcome
    probabilities are ``(code, label, weight)`` weights, normalised, jittered by ±``outcome_jitter``.
    ``close_offsets_s`` are the closes of the initial events (seconds after now); a rolling series
    (``roll_period_s``) lists its next event ``roll_period_s`` after the previous one.
    """

    ticker: str
    title: str
    category: str
    tags: tuple[str, ...]
    frequency: str
    fee_type: FeeType
    grid: str
    tier: str
    kind: str
    date_code: str  # hour | day | month | year
    close_offsets_s: tuple[int, ...]
    roll_period_s: int | None = None
    strikes: tuple[float, ...] = ()
    strike_decimals: int = 0
    latent_mean: float = 0.0
    latent_sd: float = 1.0
    latent_jitter_sd: float = 0.0
    outcomes: tuple[tuple[str, str, float], ...] = ()
    outcome_jitter: float = 0.0
    event_suffix: str = ""
    fee_multiplier: Fraction = Fraction(1)
    settlement_timer_s: int = 60
    can_close_early: bool = False

    @property
    def mutually_exclusive(self) -> bool:
        return self.kind in ("buckets", "outcomes")


_Q, _QM = FeeType.QUADRATIC, FeeType.QUADRATIC_WITH_MAKER_FEES

# Per category, in the order a scenario picks them: the first ones are the liquid, everyday series.
TEMPLATES: tuple[SeriesTemplate, ...] = (
    # --- Economics -------------------------------------------------------------------------------------
    SeriesTemplate(
        "KXFEDDECISION",
        "Fed decision",
        "Economics",
        ("Interest Rates", "Fed"),
        frequency="custom",
        fee_type=_QM,
        grid="linear_cent",
        tier="deep",
        kind="outcomes",
        date_code="month",
        close_offsets_s=(27 * _DAY, 75 * _DAY),
        outcome_jitter=0.1,
        outcomes=(
            ("H0", "Hold rates", 0.72),
            ("C25", "Cut 25bps", 0.22),
            ("C26", "Cut >25bps", 0.04),
            ("H25", "Hike 25bps", 0.02),
        ),
    ),
    SeriesTemplate(
        "KXJOBLESSCLAIMS",
        "Initial jobless claims",
        "Economics",
        ("Jobs",),
        frequency="weekly",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="deep",
        kind="ladder",
        date_code="day",
        close_offsets_s=(6 * _HOUR,),
        strikes=(205_000, 210_000, 215_000, 220_000, 225_000),
        latent_mean=214_000,
        latent_sd=6_000,
        latent_jitter_sd=2_000,
    ),
    SeriesTemplate(
        "KXCPI",
        "CPI month-over-month",
        "Economics",
        ("Inflation",),
        frequency="monthly",
        fee_type=_QM,
        grid="linear_cent",
        tier="normal",
        kind="ladder",
        date_code="month",
        close_offsets_s=(12 * _DAY,),
        strikes=(0.1, 0.2, 0.3, 0.4),
        strike_decimals=1,
        latent_mean=0.24,
        latent_sd=0.1,
        latent_jitter_sd=0.03,
    ),
    SeriesTemplate(
        "KXFED",
        "Fed funds upper bound",
        "Economics",
        ("Interest Rates", "Fed"),
        frequency="custom",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="normal",
        kind="ladder",
        date_code="month",
        close_offsets_s=(75 * _DAY,),
        strikes=(3.25, 3.50, 3.75, 4.00),
        strike_decimals=2,
        latent_mean=3.62,
        latent_sd=0.15,
        latent_jitter_sd=0.05,
    ),
    SeriesTemplate(
        "KXPAYROLLS",
        "Nonfarm payrolls",
        "Economics",
        ("Jobs",),
        frequency="monthly",
        fee_type=_Q,
        grid="linear_cent",
        tier="thin",
        kind="ladder",
        date_code="month",
        close_offsets_s=(5 * _DAY,),
        strikes=(0, 50_000, 100_000, 150_000, 200_000),
        latent_mean=110_000,
        latent_sd=60_000,
        latent_jitter_sd=20_000,
    ),
    # --- Financials ------------------------------------------------------------------------------------
    SeriesTemplate(
        "KXINXU",
        "S&P 500 above at 4pm",
        "Financials",
        ("S&P 500",),
        frequency="daily",
        fee_type=_QM,
        grid="deci_cent",
        tier="deep",
        kind="ladder",
        date_code="hour",
        close_offsets_s=(5 * _HOUR,),
        roll_period_s=_DAY,
        strikes=(5950, 5975, 6000, 6025, 6050),
        latent_mean=6003,
        latent_sd=25,
        latent_jitter_sd=8,
    ),
    # --- Crypto ----------------------------------------------------------------------------------------
    SeriesTemplate(
        "KXBTCD",
        "Bitcoin price at the hour",
        "Crypto",
        ("BTC",),
        frequency="hourly",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="deep",
        kind="ladder",
        date_code="hour",
        close_offsets_s=(40 * 60,),
        roll_period_s=_HOUR,
        strike_decimals=2,
        strikes=(95_999.99, 96_499.99, 96_999.99, 97_499.99, 97_999.99, 98_499.99, 98_999.99),
        latent_mean=97_400,
        latent_sd=700,
        latent_jitter_sd=150,
    ),
    SeriesTemplate(
        "KXETHD",
        "Ethereum price at the hour",
        "Crypto",
        ("ETH",),
        frequency="hourly",
        fee_type=_Q,
        grid="deci_cent",
        tier="normal",
        kind="ladder",
        date_code="hour",
        close_offsets_s=(150 * 60,),
        roll_period_s=_HOUR,
        strike_decimals=2,
        strikes=(3_399.99, 3_449.99, 3_499.99, 3_549.99, 3_599.99),
        latent_mean=3_480,
        latent_sd=60,
        latent_jitter_sd=15,
    ),
    SeriesTemplate(
        "KXBTCMAXY",
        "How high will Bitcoin get this year",
        "Crypto",
        ("BTC",),
        frequency="annual",
        fee_type=_QM,
        grid="linear_cent",
        tier="normal",
        kind="ladder",
        date_code="year",
        close_offsets_s=(75 * _DAY,),
        strikes=(110_000, 125_000, 150_000, 175_000, 200_000, 250_000),
        latent_mean=128_000,
        latent_sd=14_000,
        latent_jitter_sd=3_000,
    ),
    # --- Sports ----------------------------------------------------------------------------------------
    SeriesTemplate(
        "KXNFLGAME",
        "Pro football game",
        "Sports",
        ("Football", "NFL"),
        frequency="custom",
        fee_type=_QM,
        grid="linear_cent",
        tier="deep",
        kind="outcomes",
        date_code="day",
        close_offsets_s=(2 * _DAY,),
        event_suffix="BUFNYJ",
        outcome_jitter=0.2,
        can_close_early=True,
        outcomes=(("BUF", "Buffalo", 0.64), ("NYJ", "New York J", 0.36)),
    ),
    SeriesTemplate(
        "KXNBAGAME",
        "Pro basketball game",
        "Sports",
        ("Basketball", "NBA"),
        frequency="custom",
        fee_type=_Q,
        grid="linear_cent",
        tier="deep",
        kind="outcomes",
        date_code="day",
        close_offsets_s=(3 * _HOUR,),
        event_suffix="LALBOS",
        outcome_jitter=0.2,
        can_close_early=True,
        outcomes=(("LAL", "Los Angeles L", 0.45), ("BOS", "Boston", 0.55)),
    ),
    SeriesTemplate(
        "KXEPLGAME",
        "English Premier League game",
        "Sports",
        ("Soccer", "EPL"),
        frequency="custom",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="normal",
        kind="outcomes",
        date_code="day",
        close_offsets_s=(26 * _HOUR,),
        event_suffix="ARSCHE",
        outcome_jitter=0.15,
        can_close_early=True,
        outcomes=(("ARS", "Arsenal", 0.48), ("CHE", "Chelsea", 0.25), ("TIE", "Tie", 0.27)),
    ),
    # --- Entertainment ---------------------------------------------------------------------------------
    SeriesTemplate(
        "KXRT",
        "Rotten Tomatoes score",
        "Entertainment",
        ("Movies",),
        frequency="custom",
        fee_type=_Q,
        grid="linear_cent",
        tier="thin",
        kind="ladder",
        date_code="day",
        close_offsets_s=(8 * _DAY,),
        event_suffix="AVA",
        strikes=(60, 70, 80, 90),
        latent_mean=78,
        latent_sd=8,
        latent_jitter_sd=3,
    ),
    SeriesTemplate(
        "KXTOPSONG",
        "Top song on Spotify this week",
        "Entertainment",
        ("Music",),
        frequency="weekly",
        fee_type=_Q,
        grid="linear_cent",
        tier="thin",
        kind="outcomes",
        date_code="day",
        close_offsets_s=(6 * _DAY,),
        outcome_jitter=0.2,
        outcomes=(("OPA", "Opalite", 0.55), ("GOL", "Golden", 0.3), ("MAN", "Manchild", 0.1), ("ZOE", "Zoe", 0.05)),
    ),
    SeriesTemplate(
        "KXOSCARPIC",
        "Oscar for Best Picture",
        "Entertainment",
        ("Awards",),
        frequency="annual",
        fee_type=_QM,
        grid="linear_cent",
        tier="illiquid",
        kind="outcomes",
        date_code="year",
        close_offsets_s=(70 * _DAY,),
        outcome_jitter=0.1,
        outcomes=(
            ("OBA", "One Battle After Another", 0.52),
            ("SIN", "Sinners", 0.2),
            ("HAM", "Hamnet", 0.15),
            ("MAR", "Marty Supreme", 0.07),
            ("FRA", "Frankenstein", 0.035),
            ("BUG", "Bugonia", 0.015),
            ("SEN", "Sentimental Value", 0.01),
        ),
    ),
    # --- Climate and Weather ---------------------------------------------------------------------------
    SeriesTemplate(
        "KXHIGHNY",
        "Highest temperature in NYC today",
        "Climate and Weather",
        ("Daily temperature",),
        frequency="daily",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="normal",
        kind="buckets",
        date_code="day",
        close_offsets_s=(10 * _HOUR,),
        strikes=(31.5, 33.5, 35.5, 37.5),
        strike_decimals=1,
        latent_mean=34.8,
        latent_sd=1.6,
        latent_jitter_sd=0.4,
    ),
    SeriesTemplate(
        "KXHIGHCHI",
        "Highest temperature in Chicago today",
        "Climate and Weather",
        ("Daily temperature",),
        frequency="daily",
        fee_type=_Q,
        grid="tapered_deci_cent",
        tier="thin",
        kind="buckets",
        date_code="day",
        close_offsets_s=(11 * _HOUR,),
        strikes=(21.5, 23.5, 25.5, 27.5),
        strike_decimals=1,
        latent_mean=24.2,
        latent_sd=1.8,
        latent_jitter_sd=0.5,
    ),
    # --- Politics --------------------------------------------------------------------------------------
    SeriesTemplate(
        "KXGOVSHUTDOWN",
        "Government shutdown",
        "Politics",
        ("US Politics",),
        frequency="custom",
        fee_type=_Q,
        grid="linear_cent",
        tier="deep",
        kind="binary",
        date_code="day",
        close_offsets_s=(29 * _DAY,),
        outcomes=(("Y", "Shutdown begins", 0.22),),
        outcome_jitter=0.2,
    ),
    SeriesTemplate(
        "KXTRUMPAPPROVAL",
        "Presidential approval rating",
        "Politics",
        ("Polls",),
        frequency="weekly",
        fee_type=_QM,
        grid="linear_cent",
        tier="normal",
        kind="ladder",
        date_code="day",
        close_offsets_s=(8 * _DAY,),
        strikes=(40.5, 41.5, 42.5, 43.5, 44.5),
        strike_decimals=1,
        latent_mean=42.3,
        latent_sd=0.9,
        latent_jitter_sd=0.3,
    ),
    SeriesTemplate(
        "KXMAYORBOISE",
        "Boise mayoral race",
        "Politics",
        ("Local",),
        frequency="custom",
        fee_type=_Q,
        grid="linear_cent",
        tier="illiquid",
        kind="outcomes",
        date_code="year",
        close_offsets_s=(120 * _DAY,),
        outcome_jitter=0.1,
        outcomes=(("MCL", "McLean", 0.9), ("SMI", "Smith", 0.07), ("DOE", "Doe", 0.03)),
    ),
    # --- Science and Technology ------------------------------------------------------------------------
    SeriesTemplate(
        "KXTOPAI",
        "Top AI model this month",
        "Science and Technology",
        ("AI",),
        frequency="monthly",
        fee_type=_Q,
        grid="linear_cent",
        tier="illiquid",
        kind="outcomes",
        date_code="month",
        close_offsets_s=(30 * _DAY,),
        outcome_jitter=0.15,
        outcomes=(("GOOG", "Google", 0.6), ("OAI", "OpenAI", 0.25), ("ANTH", "Anthropic", 0.12), ("XAI", "xAI", 0.03)),
    ),
)
