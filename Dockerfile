# kalshi_mm daemon image. Build: docker build -t kalshi-mm .   Run: docker run --env-file .env -v kalshi_data:/data kalshi-mm
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# A non-root user owns only the data volume; the code stays read-only to it.
RUN useradd --system --uid 10001 --create-home kalshi \
    && mkdir -p /data \
    && chown kalshi:kalshi /data
USER kalshi

VOLUME ["/data"]
# The ops endpoint (/health, /metrics, dashboard): fly.toml's checks and metrics scrape it on this port. Inside a
# container it must listen on every interface; halt/resume from outside the machine need KALSHI_MM_CONTROL_TOKEN.
EXPOSE 8790
# SIGTERM starts the clean shutdown (cancel all orders, flush the DB); fly.toml's kill_timeout leaves time for it.
STOPSIGNAL SIGTERM
# The config's mode (volatility by default); DB and logs on the /data volume.
CMD ["python", "runner.py", "--config", "config.yaml", "--db", "/data/trading_analytics.db", "--log-dir", "/data/logs", "--ops-bind", "0.0.0.0"]
