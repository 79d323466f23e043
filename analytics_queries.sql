-- Useful queries over the kalshi_mm analytics database (schema.sql).
--
--   sqlite3 -header -column data/trading_analytics.db < analytics_queries.sql
-- or paste one statement at a time. Money in the tables is integer 1/10,000 $ (*_e4), counts are integer
-- 1/100 contract (*_e2), price × count products are 1/1,000,000 $ (*_e6); every query below converts to
-- dollars and contracts. Times are UTC. Prices are YES-leg prices; positions are + long YES / − long NO.
-- tests/component/test_analytics_db.py runs every statement of this file against a populated database.

-- 1. P&L per run. yes_cash_flow is money received minus money paid for YES contracts on the fills;
--    marked_pnl values the still-open position at the run's last snapshot mid (NULL if no snapshot
--    had a two-sided book). final_realized_pnl is what the strategy reported at end_strategy_run.
WITH last_mid AS (
    SELECT s.run_id, (s.yes_bid_e4 + s.yes_ask_e4) / 2.0 AS mid_e4
    FROM market_snapshots AS s
    WHERE s.id = (SELECT s2.id FROM market_snapshots AS s2
                  WHERE s2.run_id = s.run_id AND s2.yes_bid_e4 IS NOT NULL AND s2.yes_ask_e4 IS NOT NULL
                  ORDER BY s2.ts DESC, s2.id DESC LIMIT 1)
)
SELECT p.run_id, p.strategy_name, p.market_ticker, p.status, p.started_at, p.duration_s,
       p.fills, p.net_position, p.yes_cash_flow, p.fees,
       ROUND(p.yes_cash_flow - p.fees + p.net_position * m.mid_e4 / 10000.0, 4) AS marked_pnl,
       p.booked_realized_pnl, p.final_realized_pnl
FROM run_pnl AS p
LEFT JOIN last_mid AS m ON m.run_id = p.run_id
ORDER BY p.run_id DESC;

-- 2. Fill rate per run: share of orders that filled at all, and of contracts quoted that filled.
SELECT o.run_id,
       COUNT(*) AS orders,
       SUM(o.filled_count_e2 > 0) AS orders_with_fills,
       SUM(o.status = 'filled') AS orders_fully_filled,
       SUM(o.status = 'cancelled') AS orders_cancelled,
       ROUND(100.0 * SUM(o.filled_count_e2 > 0) / COUNT(*), 2) AS order_fill_rate_pct,
       SUM(o.placed_count_e2) / 100.0 AS contracts_quoted,
       SUM(o.filled_count_e2) / 100.0 AS contracts_filled,
       ROUND(100.0 * SUM(o.filled_count_e2) / SUM(o.placed_count_e2), 2) AS contract_fill_rate_pct
FROM orders AS o
GROUP BY o.run_id
ORDER BY o.run_id DESC;

-- 3. Average quoted spread per run (our computed ask − bid) next to the market's own YES spread,
--    and how far our reservation price sat from the market mid on average.
SELECT s.run_id, r.market_ticker,
       COUNT(*) AS snapshots,
       ROUND(AVG(s.spread_e4) / 10000.0, 4) AS avg_quoted_spread,
       ROUND(MIN(s.spread_e4) / 10000.0, 4) AS min_quoted_spread,
       ROUND(MAX(s.spread_e4) / 10000.0, 4) AS max_quoted_spread,
       ROUND(AVG(s.yes_ask_e4 - s.yes_bid_e4) / 10000.0, 4) AS avg_market_spread,
       ROUND(AVG(s.reservation_price_e4 - (s.yes_bid_e4 + s.yes_ask_e4) / 2.0) / 10000.0, 4)
           AS avg_reservation_minus_mid,
       ROUND(AVG(s.sigma), 6) AS avg_sigma
FROM market_snapshots AS s
LEFT JOIN strategy_runs AS r ON r.run_id = s.run_id
GROUP BY s.run_id
ORDER BY s.run_id DESC;

-- 4. Discovery: the latest session's funnel ...
SELECT d.session_id, strftime('%Y-%m-%d %H:%M:%f', d.ts, 'unixepoch') AS discovered_at, d.model_version,
       d.total_markets, d.binary_markets, d.pre_filtered, d.scored, d.top_markets_count, d.configs_generated
FROM discovery_sessions AS d
ORDER BY d.session_id DESC
LIMIT 1;

-- 4b. ... and its top 20 markets by score (selected ones flagged).
SELECT m.ticker, m.title, m.category, ROUND(m.score, 4) AS score, m.volume_24h, m.spread, m.mid_price,
       m.liquidity, m.selected_for_trading, m.trade_side, m.reasons
FROM discovered_markets_dollars AS m
WHERE m.session_id = (SELECT MAX(session_id) FROM discovery_sessions)
ORDER BY m.score DESC, m.ticker
LIMIT 20;

-- 4c. How often each market was selected across all discovery sessions.
SELECT m.ticker, COUNT(*) AS sessions_seen, SUM(m.selected_for_trading) AS times_selected,
       ROUND(AVG(m.score), 4) AS avg_score
FROM discovered_markets AS m
GROUP BY m.ticker
ORDER BY times_selected DESC, avg_score DESC
LIMIT 50;

-- 5. Volatility events, newest first, with the session each one spawned (if any) and how it ended.
SELECT e.event_id, e.market_ticker,
       strftime('%Y-%m-%d %H:%M:%f', e.ts, 'unixepoch') AS detected_at,
       ROUND(e.signal_strength, 3) AS signal_strength, e.sigma, e.direction,
       e.jump_magnitude_e4 / 10000.0 AS jump_magnitude,
       strftime('%Y-%m-%d %H:%M:%f', e.close_ts, 'unixepoch') AS market_closes_at,
       s.session_id, s.run_id, s.started_at, s.ended_at, s.duration_s, s.kill_reason, s.final_pnl,
       s.final_position
FROM volatility_events AS e
LEFT JOIN volatility_sessions_dollars AS s ON s.event_id = e.event_id
ORDER BY e.ts DESC, e.event_id DESC;

-- 5b. Volatility sessions by kill reason: how many, how long, and what they made.
SELECT COALESCE(s.kill_reason, '(still running)') AS kill_reason,
       COUNT(*) AS sessions,
       ROUND(AVG(s.end_ts - s.start_ts), 1) AS avg_duration_s,
       SUM(s.final_pnl_e4) / 10000.0 AS total_pnl,
       ROUND(AVG(s.final_pnl_e4) / 10000.0, 4) AS avg_pnl
FROM volatility_sessions AS s
GROUP BY 1
ORDER BY sessions DESC;

-- 6. Fees paid per run, split maker / taker (from the exchange's fills).
SELECT COALESCE(f.run_id, o.run_id) AS run_id,
       COUNT(*) AS fills,
       SUM(f.is_taker) AS taker_fills,
       SUM(f.count_e2) / 100.0 AS contracts,
       SUM(f.fee_e4) / 10000.0 AS fees,
       SUM(CASE WHEN f.is_taker = 1 THEN f.fee_e4 ELSE 0 END) / 10000.0 AS taker_fees,
       SUM(CASE WHEN f.is_taker = 0 THEN f.fee_e4 ELSE 0 END) / 10000.0 AS maker_fees,
       ROUND(SUM(f.fee_e4) * 100.0 / SUM(f.count_e2) / 10000.0, 6) AS fee_per_contract
FROM order_fills AS f
LEFT JOIN orders AS o ON o.order_id = f.order_id
GROUP BY 1
ORDER BY 1 DESC;

-- 6b. Fees and traded notional per UTC day.
SELECT date(f.ts, 'unixepoch') AS day,
       COUNT(*) AS fills,
       SUM(f.count_e2) / 100.0 AS contracts,
       SUM(f.price_e4 * f.count_e2) / 1000000.0 AS notional,
       SUM(f.fee_e4) / 10000.0 AS fees
FROM order_fills AS f
GROUP BY day
ORDER BY day DESC;

-- 7. Orders still resting according to the log (placed or partly filled, never cancelled).
SELECT order_id, client_order_id, run_id, market_ticker, book_side, placed_price, placed_count,
       filled_count, placed_at
FROM orders_dollars
WHERE status IN ('placed', 'partially_filled')
ORDER BY placed_at;

-- 8. Position path of the most recent run.
SELECT at, position, unrealized_pnl, realized_pnl
FROM position_history_dollars
WHERE run_id = (SELECT MAX(run_id) FROM strategy_runs)
ORDER BY at;

-- 9. Schema history of this file.
SELECT version, strftime('%Y-%m-%d %H:%M:%f', applied_ts, 'unixepoch') AS applied_at, description
FROM schema_version
ORDER BY version;
