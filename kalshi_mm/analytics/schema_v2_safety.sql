-- Schema version 2: the safety ledger (issue #9). Applied by kalshi_mm/analytics/migrations.py.

-- Every client_order_id is written here BEFORE its create request is sent, so a crash or a dropped
-- response between send and acknowledgement leaves a record to resolve on restart (look the id up on the
-- exchange: placed -> adopt or cancel, absent -> not_found).
CREATE TABLE order_intents (
    client_order_id TEXT PRIMARY KEY,
    run_id          INTEGER REFERENCES strategy_runs (run_id),
    market_ticker   TEXT NOT NULL,
    book_side       TEXT NOT NULL CHECK (book_side IN ('bid', 'ask')),
    price_e4        INTEGER NOT NULL CHECK (price_e4 BETWEEN 1 AND 9999),
    count_e2        INTEGER NOT NULL CHECK (count_e2 > 0),
    created_ts      REAL NOT NULL,
    outcome         TEXT NOT NULL DEFAULT 'pending'
                    CHECK (outcome IN ('pending', 'placed', 'rejected', 'not_found')),
    order_id        TEXT,
    resolved_ts     REAL
) STRICT;
CREATE INDEX order_intents_pending ON order_intents (outcome) WHERE outcome = 'pending';

-- Risk and safety events: vetoed orders, trading-state changes, circuit-breaker trips, position drift,
-- restart reconciliation actions (orphan cancelled/adopted, fills imported), order-group trips.
CREATE TABLE risk_events (
    id            INTEGER PRIMARY KEY,
    ts            REAL NOT NULL,
    kind          TEXT NOT NULL,  -- 'veto', 'state', 'breaker', 'drift', 'reconcile', 'order_group', ...
    rule          TEXT,           -- the veto rule or check that fired, e.g. 'global_budget'
    market_ticker TEXT,
    run_id        INTEGER REFERENCES strategy_runs (run_id),
    detail        TEXT            -- JSON object
) STRICT;
CREATE INDEX risk_events_kind_ts ON risk_events (kind, ts);
