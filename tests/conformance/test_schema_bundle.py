"""The committed Kalshi schema bundle and the conformance validator built on it.

Tests marked with the ``shared_specs`` fixture compare against Kalshi's spec files in ``<root>/../shared/kalshi``
and skip in a clone where that directory does not exist; everything else needs only the committed bundle.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from kalshi_mm.testing.conformance import (
    DEFAULT_BUNDLE_PATH,
    KalshiSchemas,
    SchemaViolationError,
    SpecLookupError,
    covered_operations,
    covered_ws_messages,
    default_schemas,
    match_operation,
    to_json_schema,
    validate_rest_request,
    validate_rest_response,
    validate_ws_message,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "derive_schema_bundle.py"
SHARED = ROOT.parent / "shared" / "kalshi"

MARKET_ID = "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1"
ORDER_ID = "3b23c1c7-f4ef-4f0d-8b9a-9e53c61f1a0d"
DOTTED_TICKER = "KXHIGHNY-25DEC12-B34.5"


# ---------------------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """The bundle script, imported from its file (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("derive_schema_bundle", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shared_specs(script: ModuleType) -> Path:
    """Kalshi's spec directory; tests using it skip in a clone without ../shared."""
    if not all((SHARED / name).is_file() for name in (script.OPENAPI_FILE, script.ASYNCAPI_FILE)):
        pytest.skip(f"Kalshi spec sources not present at {SHARED} (only the committed bundle is available)")
    return SHARED


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return json.loads(DEFAULT_BUNDLE_PATH.read_text(encoding="utf-8"))


def violation_paths(excinfo: pytest.ExceptionInfo[SchemaViolationError]) -> set[str]:
    return {violation.path for violation in excinfo.value.violations}


def iter_keys(node: Any, path: str = "$", parent: str | None = None) -> Iterator[tuple[str, str, str | None]]:
    """Every (path, key, parent key) of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, parent
            yield from iter_keys(value, f"{path}.{key}", key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_keys(value, f"{path}[{index}]", parent)


def orderbook_delta(**msg_overrides: Any) -> dict[str, Any]:
    msg = {
        "market_ticker": "FED-23DEC-T3.00",
        "market_id": MARKET_ID,
        "price_dollars": "0.9600",
        "delta_fp": "-54.00",
        "side": "yes",
        "ts": "2022-11-22T20:44:01Z",
        "ts_ms": 1669149841000,
    }
    msg.update(msg_overrides)
    return {"type": "orderbook_delta", "sid": 2, "seq": 3, "msg": msg}


# ---------------------------------------------------------------------------------------------------------
# (a) The committed bundle is what the script derives now


def test_committed_bundle_is_up_to_date(script: ModuleType, shared_specs: Path) -> None:
    differences = script.check_bundle(DEFAULT_BUNDLE_PATH, shared_specs)
    assert differences == [], "stale bundle; run `python scripts/derive_schema_bundle.py`:\n" + "\n".join(
        differences[:30]
    )


def test_bundle_header_records_source_hashes(script: ModuleType, shared_specs: Path, bundle: dict) -> None:
    sources = bundle["header"]["sources"]
    assert sources["openapi"]["file"] == script.OPENAPI_FILE
    assert sources["asyncapi"]["file"] == script.ASYNCAPI_FILE
    assert sources["openapi"]["sha256"] == script.sha256_of(shared_specs / script.OPENAPI_FILE)
    assert sources["asyncapi"]["sha256"] == script.sha256_of(shared_specs / script.ASYNCAPI_FILE)


def test_derivation_is_deterministic(script: ModuleType, shared_specs: Path) -> None:
    first = script.render_bundle(script.build_bundle(shared_specs))
    assert first == script.render_bundle(script.build_bundle(shared_specs))
    assert first.endswith("\n")


def test_check_mode_names_what_differs(
    script: ModuleType, shared_specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = json.loads(DEFAULT_BUNDLE_PATH.read_text(encoding="utf-8"))
    tampered["openapi"]["schemas"]["BookSide"]["enum"] = ["bid"]
    del tampered["asyncapi"]["messages"]["ticker"]
    path = tmp_path / "bundle.json"
    path.write_text(script.render_bundle(tampered), encoding="utf-8")

    assert script.main(["--check", "--bundle", str(path), "--source-dir", str(shared_specs)]) == 1
    err = capsys.readouterr().err
    assert "changed  $.openapi.schemas.BookSide.enum" in err
    assert "added    $.asyncapi.messages.ticker" in err

    assert script.main(["--bundle", str(path), "--source-dir", str(shared_specs)]) == 0
    assert script.main(["--check", "--bundle", str(path), "--source-dir", str(shared_specs)]) == 0
    assert path.read_bytes() == DEFAULT_BUNDLE_PATH.read_bytes()


def test_script_without_sources_exits_2(script: ModuleType, tmp_path: Path) -> None:
    assert script.main(["--check", "--source-dir", str(tmp_path / "absent")]) == 2


def test_yaml_loader_keeps_yes_no_and_dates_as_strings(script: ModuleType, tmp_path: Path) -> None:
    # PyYAML's default YAML 1.1 rules would turn an unquoted yes/no enum into booleans.
    path = tmp_path / "s.yaml"
    path.write_text("enum: [yes, no, on]\nwhen: 2026-01-01T00:00:00Z\nflag: true\n", encoding="utf-8")
    assert script.load_yaml(path) == {"enum": ["yes", "no", "on"], "when": "2026-01-01T00:00:00Z", "flag": True}


# ---------------------------------------------------------------------------------------------------------
# (b) Structure only


ANNOTATIONS = {"description", "example", "examples", "title", "summary", "default", "deprecated"}


def test_bundle_has_no_annotation_keys(bundle: dict) -> None:
    # Keys directly under "properties" are field names (Kalshi has fields called description and title).
    offenders = [
        f"{path}.{key}"
        for path, key, parent in iter_keys({"openapi": bundle["openapi"], "asyncapi": bundle["asyncapi"]})
        if parent != "properties" and (key in ANNOTATIONS or key.startswith("x-"))
    ]
    assert offenders == []


def test_bundle_schemas_use_only_kept_keywords(bundle: dict) -> None:
    kept = set(bundle["header"]["kept_keywords"])

    def check(schema: Any, where: str) -> Iterator[str]:
        if isinstance(schema, bool):
            return
        for key, value in schema.items():
            if key not in kept:
                yield f"{where}.{key}"
            elif key == "properties":
                for name, sub in value.items():
                    yield from check(sub, f"{where}.properties.{name}")
            elif key in ("items", "additionalProperties", "not"):
                yield from check(value, f"{where}.{key}")
            elif key in ("allOf", "anyOf", "oneOf"):
                for index, sub in enumerate(value):
                    yield from check(sub, f"{where}.{key}[{index}]")

    schemas = [(f"openapi.{name}", s) for name, s in bundle["openapi"]["schemas"].items()]
    schemas += [(f"asyncapi.{name}", s) for name, s in bundle["asyncapi"]["schemas"].items()]
    schemas += [(f"message.{key}", m["payload"]) for key, m in bundle["asyncapi"]["messages"].items()]
    for key, operation in bundle["openapi"]["operations"].items():
        for status, response in operation["responses"].items():
            schemas += [(f"{key} {status}", media["schema"]) for media in response["content"].values()]
        if operation["request_body"]:
            schemas += [(f"{key} body", m["schema"]) for m in operation["request_body"]["content"].values()]
    offenders = [bad for where, schema in schemas for bad in check(schema, where)]
    assert offenders == []


def test_ticker_pattern_is_dropped_and_recorded(bundle: dict) -> None:
    assert bundle["asyncapi"]["schemas"]["marketTicker"] == {"type": "string"}
    assert bundle["header"]["dropped_patterns"] == [
        {"location": "asyncapi:#/components/schemas/marketTicker", "pattern": "^[A-Z0-9-]+$"}
    ]


def test_bundle_covers_the_spec_subsets(bundle: dict) -> None:
    # Counts from /work/shared/kalshi/README.md: 76 OpenAPI schemas, 28 AsyncAPI messages, 36 payload schemas.
    assert len(bundle["openapi"]["schemas"]) == 76
    assert len(bundle["asyncapi"]["messages"]) == 28
    assert len(bundle["asyncapi"]["schemas"]) == 36
    assert bundle["openapi"]["server_path_prefixes"] == ["/trade-api/v2"]
    assert bundle["asyncapi"]["channels"]["orderbook_delta"]["messages"] == ["orderbookSnapshot", "orderbookDelta"]


def test_every_converted_schema_is_valid_json_schema(bundle: dict) -> None:
    for api in ("openapi", "asyncapi"):
        for schema in bundle[api]["schemas"].values():
            Draft202012Validator.check_schema(to_json_schema(schema, "urn:x", openapi=api == "openapi"))


# ---------------------------------------------------------------------------------------------------------
# OpenAPI 3.0 dialect conversion


def test_nullable_becomes_null_type_and_null_enum_member() -> None:
    converted = to_json_schema({"type": "string", "enum": ["a"], "nullable": True}, "urn:x", openapi=True)
    assert converted == {"type": ["string", "null"], "enum": ["a", None]}


def test_nullable_ref_is_wrapped_and_ref_made_absolute() -> None:
    converted = to_json_schema({"$ref": "#/components/schemas/X", "nullable": True}, "urn:x", openapi=True)
    assert converted == {"anyOf": [{"$ref": "urn:x#/components/schemas/X"}, {"type": "null"}]}


def test_boolean_exclusive_minimum_becomes_numeric() -> None:
    converted = to_json_schema({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, "urn:x", openapi=True)
    assert converted == {"type": "integer", "exclusiveMinimum": 0}


def test_unknown_bundle_format_is_refused(bundle: dict) -> None:
    with pytest.raises(ValueError, match="bundle format"):
        KalshiSchemas({**bundle, "header": {**bundle["header"], "bundle_format": 999}})


# ---------------------------------------------------------------------------------------------------------
# (c) Samples that follow the spec pass; broken ones fail with JSON paths


ORDERBOOK_PATH = "/trade-api/v2/markets/KX-1/orderbook"


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        pytest.param(
            "GET",
            ORDERBOOK_PATH,
            200,
            {"orderbook_fp": {"yes_dollars": [["0.4200", "13.00"]], "no_dollars": []}},
            id="orderbook",
        ),
        pytest.param(
            "GET",
            "/portfolio/balance",
            200,
            {
                "balance": 10000,
                "balance_dollars": "100.0000",
                "portfolio_value": 2500,
                "updated_ts": 1767225600,
                "balance_breakdown": [{"exchange_index": 0, "balance": "100.0000"}],
            },
            id="balance",
        ),
        pytest.param(
            "GET",
            "/trade-api/v2/markets/trades?limit=1",
            200,
            {
                "trades": [
                    {
                        "trade_id": "t-1",
                        "ticker": DOTTED_TICKER,
                        "count_fp": "3.00",
                        "yes_price_dollars": "0.4700",
                        "no_price_dollars": "0.5300",
                        "taker_outcome_side": "yes",
                        "taker_book_side": "bid",
                        "created_time": "2026-08-01T12:00:00.5Z",
                        "is_block_trade": False,
                    }
                ],
                "cursor": "",
            },
            id="trades-with-trimmed-fraction",
        ),
        pytest.param(
            "GET",
            "/exchange/status",
            200,
            {"exchange_active": True, "trading_active": False, "exchange_estimated_resume_time": None},
            id="exchange-status-nullable",
        ),
        pytest.param(
            "POST",
            "/portfolio/events/orders",
            201,
            {"order_id": ORDER_ID, "fill_count": "0.00", "remaining_count": "10.00", "ts_ms": 1715793600123},
            id="create-order-v2",
        ),
        pytest.param(
            "DELETE",
            f"/portfolio/events/orders/{ORDER_ID}?market_ticker=KX-1",
            200,
            {"order_id": ORDER_ID, "reduced_by": "10.00", "ts_ms": 1715793600123},
            id="cancel-order-v2",
        ),
        pytest.param("DELETE", "/portfolio/events/orders", 204, None, id="cancel-all-no-body"),
        pytest.param(
            "POST",
            "/portfolio/events/orders",
            400,
            {"code": "invalid_order", "message": "invalid order", "details": "post only cross"},
            id="error-flat",
        ),
        pytest.param(
            "GET",
            "/markets/NOPE",
            404,
            {"error": {"code": "not_found", "message": "market not found"}},
            id="error-nested-description-only-status",
        ),
        pytest.param("GET", "/markets", 429, {"error": "too many requests"}, id="error-429-string"),
        pytest.param(
            "GET", "/portfolio/balance", 503, {"error": {"code": "x", "message": "y"}}, id="error-undocumented"
        ),
    ],
)
def test_conforming_rest_responses_pass(method: str, path: str, status: int, body: object) -> None:
    validate_rest_response(method, path, status, body)


def test_missing_required_field_is_reported_with_path() -> None:
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_rest_response("GET", ORDERBOOK_PATH, 200, {"orderbook_fp": {"yes_dollars": []}})
    assert violation_paths(excinfo) == {"$.orderbook_fp"}
    assert "'no_dollars' is a required property" in str(excinfo.value)


def test_numeric_price_is_reported_with_path() -> None:
    body = {"orderbook_fp": {"yes_dollars": [["0.4200", "1.00"], [0.43, "13.00"]], "no_dollars": []}}
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_rest_response("GET", ORDERBOOK_PATH, 200, body)
    assert violation_paths(excinfo) == {"$.orderbook_fp.yes_dollars[1][0]"}
    assert "0.43 is not of type 'string'" in str(excinfo.value)


def test_every_violation_is_listed() -> None:
    body = {"balance": "100", "balance_dollars": 1.5, "portfolio_value": 0}
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_rest_response("GET", "/portfolio/balance", 200, body)
    assert [(v.path, v.keyword) for v in excinfo.value.violations] == [
        ("$", "required"),
        ("$.balance", "type"),
        ("$.balance_dollars", "type"),
    ]
    assert "3 schema violation(s)" in str(excinfo.value)


def test_wrong_enum_and_bad_date_time_are_reported() -> None:
    trade = {
        "trade_id": "t-1",
        "ticker": "KX-1",
        "count_fp": "3.00",
        "yes_price_dollars": "0.4700",
        "no_price_dollars": "0.5300",
        "taker_outcome_side": "maybe",
        "taker_book_side": "bid",
        "created_time": "2026-08-01 12:00",
        "is_block_trade": False,
    }
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_rest_response("GET", "/markets/trades", 200, {"trades": [trade], "cursor": ""})
    assert violation_paths(excinfo) == {"$.trades[0].taker_outcome_side", "$.trades[0].created_time"}


def test_request_bodies() -> None:
    order = {
        "ticker": DOTTED_TICKER,
        "side": "bid",
        "count": "10.00",
        "price": "0.5600",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "maker",
        "post_only": True,
    }
    validate_rest_request("POST", "/trade-api/v2/portfolio/events/orders", order)
    validate_rest_request("POST", "/portfolio/events/orders/batched", {"orders": [order, order]})
    validate_rest_request("PUT", "/portfolio/order_groups/og-1/reset", None)  # optional body
    validate_rest_request("GET", "/markets", None)

    with pytest.raises(SchemaViolationError) as excinfo:
        validate_rest_request("POST", "/portfolio/events/orders", {**order, "side": "buy", "count": 10})
    assert violation_paths(excinfo) == {"$.side", "$.count"}
    with pytest.raises(SchemaViolationError, match="request body is required"):
        validate_rest_request("POST", "/portfolio/events/orders", None)
    with pytest.raises(SchemaViolationError, match="takes no request body"):
        validate_rest_request("GET", "/markets", {"limit": 5})


def test_nullable_ref_accepts_null_in_request() -> None:
    validate_rest_request("POST", "/portfolio/order_groups/create", {"contracts_limit_fp": None})
    with pytest.raises(SchemaViolationError):
        validate_rest_request("POST", "/portfolio/order_groups/create", {"contracts_limit_fp": 5})


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"detail": "bad request"}),  # a web framework's default error shape
        (400, {"error": "too many requests"}),  # the string form is for 429 only
        (404, {"error": {"message": "no code"}}),
        (500, None),
        (409, {"code": 409, "message": "conflict"}),
    ],
)
def test_non_kalshi_error_bodies_fail(status: int, body: object) -> None:
    with pytest.raises(SchemaViolationError, match="none of Kalshi's error forms"):
        validate_rest_response("POST", "/portfolio/events/orders", status, body)


def test_undocumented_success_status_and_unexpected_body_raise() -> None:
    with pytest.raises(SpecLookupError, match="status 200 is not documented"):
        validate_rest_response("POST", "/portfolio/events/orders", 200, {})
    with pytest.raises(SchemaViolationError, match="no body for 204"):
        validate_rest_response("DELETE", "/portfolio/events/orders", 204, {"ok": True})


def test_documented_non_error_schema_on_error_status_is_used() -> None:
    # GET /exchange/status documents ExchangeStatus (not ErrorResponse) for 503.
    validate_rest_response("GET", "/exchange/status", 503, {"exchange_active": False, "trading_active": False})
    with pytest.raises(SchemaViolationError):
        validate_rest_response("GET", "/exchange/status", 503, {"code": "unavailable", "message": "down"})


def test_spec_component_examples_validate(script: ModuleType, shared_specs: Path) -> None:
    document = script.load_yaml(shared_specs / script.OPENAPI_FILE)
    examples = {name: s["example"] for name, s in document["components"]["schemas"].items() if "example" in s}
    assert len(examples) >= 10
    failures = []
    for name, example in examples.items():
        try:
            default_schemas().validate_schema(name, example)
        except SchemaViolationError as exc:
            failures.append(str(exc))
    assert failures == []


def test_spec_ws_examples_validate(script: ModuleType, shared_specs: Path) -> None:
    document = script.load_yaml(shared_specs / script.ASYNCAPI_FILE)
    payloads = [
        (key, example["payload"])
        for key, message in document["components"]["messages"].items()
        for example in message.get("examples", [])
    ]
    assert len(payloads) >= 20
    failures = []
    for key, payload in payloads:
        try:
            validate_ws_message(payload)
        except SchemaViolationError as exc:
            failures.append(f"{key}: {exc}")
    assert failures == []


# ---------------------------------------------------------------------------------------------------------
# (d) Path matching


@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/trade-api/v2/markets/trades", "/markets/trades", {}),
        ("GET", "/markets/orderbooks?tickers=A&tickers=B", "/markets/orderbooks", {}),
        ("GET", "/trade-api/v2/markets/KX-1/orderbook?depth=5", "/markets/{ticker}/orderbook", {"ticker": "KX-1"}),
        ("GET", f"https://demo-api.kalshi.co/trade-api/v2/markets/{DOTTED_TICKER}/", "/markets/{ticker}", {}),
        ("GET", "/markets/{ticker}", "/markets/{ticker}", {}),
        ("DELETE", "/portfolio/events/orders/batched", "/portfolio/events/orders/batched", {}),
        ("DELETE", f"/portfolio/events/orders/{ORDER_ID}", "/portfolio/events/orders/{order_id}", {}),
        ("POST", "/portfolio/order_groups/create", "/portfolio/order_groups/create", {}),
        ("GET", "/series/S/markets/M/candlesticks", "/series/{series_ticker}/markets/{ticker}/candlesticks", {}),
    ],
)
def test_path_matching_prefers_literal_segments(method: str, path: str, template: str, params: dict[str, str]) -> None:
    operation, found = match_operation(method, path)
    assert operation.template == template
    assert operation.method == method
    for name, value in params.items():
        assert found[name] == value


def test_dotted_ticker_is_a_path_parameter_value() -> None:
    _, params = match_operation("GET", f"/markets/{DOTTED_TICKER}")
    assert params == {"ticker": DOTTED_TICKER}


def test_literal_match_selects_the_literal_operations_schema() -> None:
    # A GetMarket body on /markets/trades must be judged as GetTrades (and fail), not as /markets/{ticker}.
    with pytest.raises(SchemaViolationError, match="'trades' is a required property"):
        validate_rest_response("GET", "/markets/trades", 200, {"market": {}})


def test_unknown_path_and_method_raise_lookup_errors() -> None:
    with pytest.raises(SpecLookupError, match="no documented REST path"):
        match_operation("GET", "/trade-api/v2/historical/markets")
    with pytest.raises(SpecLookupError, match=re.escape("POST is not documented for /markets/{ticker}")):
        validate_rest_response("POST", "/markets/KX-1", 200, {})
    with pytest.raises(SpecLookupError, match="GET is not documented"):
        match_operation("GET", "/portfolio/events/orders/batched")


def test_covered_operations_lists_every_documented_pair() -> None:
    pairs = covered_operations()
    assert len(pairs) == 34
    assert pairs == sorted(set(pairs))
    for pair in [
        ("GET", "/markets/{ticker}/orderbook"),
        ("POST", "/portfolio/events/orders"),
        ("DELETE", "/portfolio/events/orders/{order_id}"),
        ("POST", "/portfolio/events/orders/{order_id}/amend"),
        ("PUT", "/portfolio/order_groups/{order_group_id}/trigger"),
    ]:
        assert pair in pairs
    for operation in default_schemas().operations():
        assert any(status.startswith("2") for status in operation.statuses), operation


# ---------------------------------------------------------------------------------------------------------
# (e) WebSocket messages


def test_ws_orderbook_delta_passes() -> None:
    validate_ws_message(orderbook_delta())
    validate_ws_message(orderbook_delta(market_ticker=DOTTED_TICKER))


@pytest.mark.parametrize(
    ("message", "paths"),
    [
        (orderbook_delta(delta_fp=-54), {"$.msg.delta_fp"}),
        (orderbook_delta(side="bid"), {"$.msg.side"}),
        (orderbook_delta(market_id="not-a-uuid"), {"$.msg.market_id"}),
        ({k: v for k, v in orderbook_delta().items() if k != "seq"}, {"$"}),
        ({**orderbook_delta(), "seq": 0}, {"$.seq"}),
    ],
)
def test_ws_broken_orderbook_delta_fails(message: dict[str, Any], paths: set[str]) -> None:
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_ws_message(message)
    assert violation_paths(excinfo) == paths


@pytest.mark.parametrize(
    "message",
    [
        {
            "type": "orderbook_snapshot",
            "sid": 1,
            "seq": 1,
            "msg": {
                "market_ticker": DOTTED_TICKER,
                "market_id": MARKET_ID,
                "yes_dollars_fp": [["0.4700", "3.00"]],
                "no_dollars_fp": [],
            },
        },
        {"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}},
        {"type": "ok", "id": 2, "sid": 1, "seq": 5, "msg": {"market_tickers": [DOTTED_TICKER]}},
        {"type": "error", "id": 3, "msg": {"code": 8, "msg": "Unknown channel name"}},
        {
            "type": "market_lifecycle_v2",
            "sid": 4,
            "seq": 1,
            "msg": {"market_ticker": DOTTED_TICKER, "event_type": "metadata_updated", "yes_sub_title": "x"},
        },
        {
            "type": "market_lifecycle_v2",
            "sid": 4,
            "seq": 2,
            "msg": {"market_ticker": DOTTED_TICKER, "event_type": "determined", "result": "yes"},
        },
        {"cmd": "subscribe", "id": 1, "params": {"channels": ["orderbook_delta"], "market_tickers": ["KX-1.5"]}},
    ],
    ids=["snapshot", "subscribed", "ok", "error", "metadata-updated", "lifecycle", "subscribe-cmd"],
)
def test_ws_other_messages_pass(message: dict[str, Any]) -> None:
    validate_ws_message(message)


def test_ws_shared_type_reports_each_candidate() -> None:
    message = {"type": "market_lifecycle_v2", "sid": 4, "seq": 1, "msg": {"market_ticker": "KX", "event_type": "x"}}
    with pytest.raises(SchemaViolationError) as excinfo:
        validate_ws_message(message)
    text = str(excinfo.value)
    assert "as marketLifecycleV2:" in text
    assert "as marketMetadataUpdated:" in text


def test_ws_unknown_type_and_non_object_raise() -> None:
    with pytest.raises(SpecLookupError, match="no AsyncAPI message has type 'ticker_v2'"):
        validate_ws_message({"type": "ticker_v2", "msg": {}})
    with pytest.raises(SpecLookupError, match="neither 'type' nor 'cmd'"):
        validate_ws_message({"msg": {}})
    with pytest.raises(SchemaViolationError):
        validate_ws_message(["orderbook_delta"])


def test_ws_message_types_cover_the_mm_channels() -> None:
    types = {value for discriminator, value, _ in covered_ws_messages() if discriminator == "type"}
    assert {
        "orderbook_snapshot",
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_position",
        "user_order",
        "order_group_updates",
        "market_lifecycle_v2",
        "event_lifecycle",
        "subscribed",
        "unsubscribed",
        "ok",
        "error",
    } <= types
    assert default_schemas().ws_channels()["user_orders"] == ["userOrder"]
