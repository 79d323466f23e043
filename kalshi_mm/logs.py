"""Logging set-up: console, one file per strategy, the daily volatility sweep file, and secret redaction.

Every handler this module creates carries :class:`SecretRedactingFilter`, which rewrites each record's
message, arguments, traceback and stack text before any formatter sees it: PEM private-key blocks, the
request-signature header and every secret registered with :func:`register_secret` (the app registers the
private key's text at start-up) become ``[REDACTED]``. Records reach files only through these handlers, so
nothing logged anywhere in the process can write the key or a signature.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from pathlib import Path

from kalshi_mm.clock import Clock

__all__ = [
    "REDACTED",
    "DailySweepFileHandler",
    "SecretRedactingFilter",
    "configure_logging",
    "redact",
    "register_secret",
    "strategy_logger",
]

REDACTED = "[REDACTED]"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)
# The header name followed by its value in any of the shapes a dict repr, an HTTP dump or a log line give.
_SIGNATURE = re.compile(r"(KALSHI-ACCESS-SIGNATURE['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9+/=_-]+", re.I)
# Shorter fragments than this are too likely to match ordinary text; key lines are 64 characters.
_MIN_FRAGMENT = 16

# Guarded by _secrets_lock: registered from the main thread at start-up, read by every logging thread.
_secrets_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secret(text: str) -> None:
    """Make the redactor remove ``text`` and each of its lines of 16+ characters from all log output."""
    global _secrets
    pieces = {text.strip()} | {line.strip() for line in text.replace("\\n", "\n").splitlines()}
    fresh = {p for p in pieces if len(p) >= _MIN_FRAGMENT}
    with _secrets_lock:
        # Longest first, so a whole key is replaced before its lines are.
        _secrets = tuple(sorted(set(_secrets) | fresh, key=len, reverse=True))


def redact(text: str) -> str:
    """Remove private keys, signatures and registered secrets from ``text``."""
    text = _PEM_BLOCK.sub(REDACTED, text)
    text = _SIGNATURE.sub(lambda m: m.group(1) + REDACTED, text)
    with _secrets_lock:
        secrets = _secrets
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record in place so no formatter or handler can emit a secret; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the record (or leak its raw args)
            message = f"{record.msg!s} (log arguments could not be formatted)"
        # The first pass keeps an error's unformatted template so later handlers can still group records by it,
        # as the repeated-error alert does (kalshi_mm.ops.alerts.RepeatedErrorHandler).
        if record.levelno >= logging.ERROR and "msg_template" not in record.__dict__:
            record.msg_template = redact(str(record.msg))
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _make_handler(handler: logging.Handler, level: int | str = logging.NOTSET) -> logging.Handler:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(SecretRedactingFilter())
    return handler


def configure_logging(level: str, log_dir: Path, *, console: bool = True) -> None:
    """Console output at ``level`` on the root logger; creates ``log_dir``. Idempotent (replaces our handlers)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kalshi_mm", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    if console:
        handler = _make_handler(logging.StreamHandler(sys.stderr))
        handler._kalshi_mm = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # urllib3 at DEBUG prints every request line; keep it at INFO so DEBUG stays about our own decisions.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))


def strategy_logger(strategy_name: str, log_dir: Path) -> logging.Logger:
    """A logger writing to ``{log_dir}/{strategy_name}.log`` as well as the console (via propagation)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", strategy_name)
    logger = logging.getLogger(f"kalshi_mm.strategy.{safe}")
    path = (log_dir / f"{safe}.log").resolve()
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path for h in logger.handlers):
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.addHandler(_make_handler(logging.FileHandler(path, encoding="utf-8")))
    return logger


def close_strategy_logger(logger: logging.Logger) -> None:
    """Close and detach a strategy logger's file handlers (when its session ends)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


class DailySweepFileHandler(logging.Handler):
    """Writes to ``volatility_sweep_details_YYYYMMDD.log``, switching file when the injected clock's UTC date changes.

    ``self.lock`` (logging.Handler's own) guards ``_stream`` and ``_day``.
    """

    def __init__(self, log_dir: Path, clock: Clock):
        super().__init__()
        self._log_dir = log_dir
        self._clock = clock
        self._day = ""
        self._stream = None
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.addFilter(SecretRedactingFilter())

    def targets(self, log_dir: Path, clock: Clock) -> bool:
        """True if this handler writes ``log_dir``'s sweep files on ``clock``."""
        return self._clock is clock and self._log_dir.resolve() == log_dir.resolve()

    def path_for_today(self) -> Path:
        return self._log_dir / f"volatility_sweep_details_{self._clock.now().strftime('%Y%m%d')}.log"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            day = self._clock.now().strftime("%Y%m%d")
            if day != self._day or self._stream is None:
                if self._stream is not None:
                    self._stream.close()
                self._log_dir.mkdir(parents=True, exist_ok=True)
                self._stream = open(self.path_for_today(), "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._day = day
            self._stream.write(line)
            self._stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
        finally:
            self.release()
        super().close()


def sweep_logger(log_dir: Path, clock: Clock) -> logging.Logger:
    """The logger for per-sweep scanner details; does not propagate, so the console stays readable.

    One sweep file at a time: asking again for another directory or clock replaces the previous handler.
    """
    logger = logging.getLogger("kalshi_mm.volatility.sweep")
    logger.propagate = False
    # The sweep file is its own record, kept at INFO whatever the console level is.
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        if isinstance(handler, DailySweepFileHandler) and handler.targets(log_dir, clock):
            return logger
        logger.removeHandler(handler)
        handler.close()
    logger.addHandler(DailySweepFileHandler(log_dir, clock))
    return logger
