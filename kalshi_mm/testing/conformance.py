"""Validate REST and WebSocket payloads against Kalshi's official API description.

The source of truth is ``tests/fixtures/kalshi_schemas/bundle.json``, derived from Kalshi's OpenAPI 3.0 and
AsyncAPI 3.0 documents by ``scripts/derive_schema_bundle.py`` (structure only). This module turns the
OpenAPI 3.0 schema dialect into JSON Schema 2020-12 and validates with ``jsonschema`` plus a
``referencing.Registry``, so every ``$ref`` resolves inside the bundle.

Typical use in a test::

    from kalshi_mm.testing.conformance import validate_rest_response, validate_ws_message

    validate_rest_response("GET", "/trade-api/v2/markets/KX-1/orderbook", 200, response.json())
    validate_ws_message({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {...}})

Failures raise :class:`SchemaViolationError` (every violation with its JSON path) or
:class:`SpecLookupError` (the spec documents no such operation, status or message); both subclass
``AssertionError`` so pytest reports them as test failures.

Dialect decisions (why the result is not a byte-for-byte reading of OpenAPI 3.0):

* ``nullable: true`` allows ``null`` even beside ``$ref``/``allOf``. OpenAPI 3.0 strictly ignores
  siblings of ``$ref``, but Kalshi writes ``{$ref: FixedPointCount, nullable: true}`` to mean "or null".
* ``format`` is checked for ``date-time`` (RFC 3339), ``uuid``, ``int32`` and ``int64`` only; other formats
  (``double``...) are annotations.
* Error bodies: see :data:`ERROR_REQUIRED_FIELDS` and :meth:`KalshiSchemas.validate_rest_response`.
* Additional properties stay allowed unless a schema says otherwise: Kalshi adds fields without notice.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "DEFAULT_BUNDLE_PATH",
    "ERROR_REQUIRED_FIELDS",
    "KalshiSchemas",
    "Operation",
    "SchemaViolationError",
    "SpecLookupError",
    "Violation",
    "covered_operations",
    "covered_ws_messages",
    "default_schemas",
    "match_operation",
    "to_json_schema",
    "validate_rest_request",
    "validate_rest_response",
    "validate_schema",
    "validate_ws_message",
]

DEFAULT_BUNDLE_PATH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "kalshi_schemas" / "bundle.json"
SUPPORTED_BUNDLE_FORMAT = 1

# Base URIs under which the two halves of the bundle are registered; bundle refs are '#/components/...'.
OPENAPI_URI = "urn:kalshi-mm:openapi"
ASYNCAPI_URI = "urn:kalshi-mm:asyncapi"
ERROR_RESPONSE_REF = "#/components/schemas/ErrorResponse"

# Kalshi's ErrorResponse declares no required field, so any JSON object would pass it (including a
# framework default such as {"detail": "..."}). NOTES §4 documents every error as carrying a code and a
# message, so the error forms below require both; this is deliberately stricter than the bare schema.
ERROR_REQUIRED_FIELDS = ("code", "message")

_JSON = "application/json"
_NO_BODY: tuple[object, ...] = (None, "", b"")


class SpecLookupError(AssertionError):
    """The spec documents no operation, status, request body or message type for what was asked."""


@dataclass(frozen=True)
class Violation:
    """One schema violation: where (JSON path, ``$`` = the whole payload) and what."""

    path: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"at {self.path}: {self.message} [{self.keyword}]"


class SchemaViolationError(AssertionError):
    """A payload does not conform; ``violations`` lists every problem found, not just the first."""

    def __init__(self, subject: str, violations: Iterable[Violation]) -> None:
        self.subject = subject
        self.violations = tuple(violations)
        lines = [f"{subject}: {len(self.violations)} schema violation(s)"]
        lines.extend(f"  {violation}" for violation in self.violations)
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Operation:
    """A documented REST operation (``template`` is relative to the ``/trade-api/v2`` server prefix)."""

    method: str
    template: str
    operation_id: str | None
    statuses: tuple[str, ...]
    path_parameters: tuple[str, ...]
    has_request_body: bool
    request_body_required: bool


# ---------------------------------------------------------------------------------------------------------
# Format checks


_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$")


def _is_rfc3339(instance: object) -> bool:
    """RFC 3339 date-time; fractional seconds of any length (Kalshi trims trailing zeros, e.g. ``.5Z``)."""
    if not isinstance(instance, str):
        return True  # format applies to strings only; the type keyword reports other mismatches
    match = _DATE_TIME.match(instance)
    if match is None:
        return False
    year, month, day, hour, minute, second, offset_hour, offset_minute = match.groups()
    if offset_hour is not None and (int(offset_hour) > 23 or int(offset_minute) > 59):
        return False
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return False
    return True


def _is_uuid(instance: object) -> bool:
    """Canonical hyphenated UUID (8-4-4-4-12 hex digits)."""
    if not isinstance(instance, str):
        return True
    return re.fullmatch(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", instance) is not None


def _int_range(bits: int) -> Any:
    """A checker that an integer fits in a signed ``bits``-bit integer (Kalshi's Go server types)."""

    def check(instance: object) -> bool:
        if isinstance(instance, bool) or not isinstance(instance, int):
            return True
        return -(2 ** (bits - 1)) <= instance < 2 ** (bits - 1)

    return check


def _format_checker() -> FormatChecker:
    """Only the formats Kalshi uses that we can check without extra packages (see module docstring)."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_rfc3339)
    checker.checks("uuid")(_is_uuid)
    checker.checks("int32")(_int_range(32))
    checker.checks("int64")(_int_range(64))
    return checker


# ---------------------------------------------------------------------------------------------------------
# Dialect conversion


_NOT_PLAIN_TYPE = ("$ref", "allOf", "anyOf", "oneOf", "not", "const")


def to_json_schema(node: Any, base_uri: str, *, openapi: bool) -> Any:
    """Convert one bundle schema to JSON Schema 2020-12.

    Local refs (``#/components/schemas/X``) become absolute under ``base_uri``. With ``openapi=True`` the
    OpenAPI 3.0 dialect is translated too: ``nullable`` and boolean ``exclusiveMinimum``/``Maximum``.
    """
    if isinstance(node, bool):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = base_uri + value if value.startswith("#") else value
        elif key == "properties":
            out[key] = {name: to_json_schema(sub, base_uri, openapi=openapi) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value, base_uri, openapi=openapi)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub, base_uri, openapi=openapi) for sub in value]
        elif key == "nullable" and openapi:
            continue
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and openapi and isinstance(value, bool):
            # OpenAPI 3.0 (draft-04 style): a boolean that makes minimum/maximum exclusive.
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in node:
                out[key] = node[bound]
        else:
            out[key] = value
    if openapi and node.get("nullable") is True:
        if isinstance(out.get("type"), str) and not any(key in out for key in _NOT_PLAIN_TYPE):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if openapi and node.get("exclusiveMinimum") is True:
        out.pop("minimum", None)
    if openapi and node.get("exclusiveMaximum") is True:
        out.pop("maximum", None)
    return out


def _violations(errors: Iterable[ValidationError]) -> list[Violation]:
    """Flatten jsonschema errors; for anyOf/oneOf failures also show the most relevant branch error."""
    found = []
    for error in errors:
        message = error.message
        if error.context:
            branch = best_match(error.context)
            message = f"{message} (closest branch: at {branch.json_path}: {branch.message})"
        found.append(Violation(error.json_path, message, str(error.validator)))
    return sorted(found, key=lambda violation: (violation.path, violation.message))


# ---------------------------------------------------------------------------------------------------------
# The checker


class KalshiSchemas:
    """Validators for every REST operation and WebSocket message described by one schema bundle."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        found = bundle.get("header", {}).get("bundle_format")
        if found != SUPPORTED_BUNDLE_FORMAT:
            raise ValueError(f"schema bundle format {found!r} is not {SUPPORTED_BUNDLE_FORMAT}; regenerate it")
        self._openapi = bundle["openapi"]
        self._asyncapi = bundle["asyncapi"]
        self._prefixes = tuple(sorted(self._openapi.get("server_path_prefixes", []), key=len, reverse=True))
        self._format_checker = _format_checker()
        self._registry: Registry = Registry().with_resources(
            [
                (uri, DRAFT202012.create_resource({"components": {"schemas": schemas}}))
                for uri, schemas in (
                    (OPENAPI_URI, self._converted_components(self._openapi["schemas"], OPENAPI_URI, True)),
                    (ASYNCAPI_URI, self._converted_components(self._asyncapi["schemas"], ASYNCAPI_URI, False)),
                )
            ]
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self._templates = sorted({entry["path"] for entry in self._openapi["operations"].values()})
        self._ws_index = self._index_ws_messages()

    @classmethod
    def from_file(cls, path: Path = DEFAULT_BUNDLE_PATH) -> KalshiSchemas:
        """Load a bundle written by ``scripts/derive_schema_bundle.py``."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    @staticmethod
    def _converted_components(schemas: Mapping[str, Any], base_uri: str, openapi: bool) -> dict[str, Any]:
        return {name: to_json_schema(node, base_uri, openapi=openapi) for name, node in schemas.items()}

    def _validator(self, cache_key: str, schema: Any) -> Draft202012Validator:
        validator = self._validators.get(cache_key)
        if validator is None:
            validator = Draft202012Validator(schema, registry=self._registry, format_checker=self._format_checker)
            self._validators[cache_key] = validator
        return validator

    # -- REST: operations and paths --------------------------------------------------------------------

    def covered_operations(self) -> list[tuple[str, str]]:
        """Every documented ``(METHOD, template)`` pair, sorted (templates without the server prefix)."""
        return sorted((entry["method"], entry["path"]) for entry in self._openapi["operations"].values())

    def operations(self) -> list[Operation]:
        """Every documented operation with its documented statuses and parameters."""
        return [self._operation(entry) for _, entry in sorted(self._openapi["operations"].items())]

    @staticmethod
    def _operation(entry: Mapping[str, Any]) -> Operation:
        body = entry["request_body"]
        return Operation(
            method=entry["method"],
            template=entry["path"],
            operation_id=entry["operation_id"],
            statuses=tuple(sorted(entry["responses"])),
            path_parameters=tuple(parameter["name"] for parameter in entry["path_parameters"]),
            has_request_body=body is not None,
            request_body_required=bool(body and body["required"]),
        )

    def normalize_path(self, path: str) -> str:
        """Drop scheme/host, query string, fragment, the server prefix and a trailing slash."""
        path = urlsplit(path).path if "://" in path else path.split("?", 1)[0].split("#", 1)[0]
        for prefix in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                path = path[len(prefix) :]
                break
        path = "/" + path.strip("/")
        return path

    def match_path(self, path: str) -> tuple[str, dict[str, str]]:
        """Map a concrete path (or a template) to its documented template and path-parameter values.

        Literal segments win over parameters, position by position: ``/markets/trades`` is the trades
        endpoint, not ``/markets/{ticker}`` with ticker ``trades`` (the spec lists both as separate paths).
        """
        normalized = self.normalize_path(path)
        if normalized in self._templates:
            return normalized, {}
        segments = normalized.split("/")[1:]
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for template in self._templates:
            template_segments = template.split("/")[1:]
            if len(template_segments) != len(segments):
                continue
            params: dict[str, str] = {}
            rank: list[int] = []
            for pattern, segment in zip(template_segments, segments, strict=True):
                if pattern.startswith("{") and pattern.endswith("}"):
                    if not segment:
                        break
                    params[pattern[1:-1]] = unquote(segment)
                    rank.append(1)
                elif pattern == segment:
                    rank.append(0)
                else:
                    break
            else:
                candidate = (tuple(rank), template, params)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
        if best is None:
            raise SpecLookupError(
                f"no documented REST path matches {path!r} (normalized to {normalized!r}); "
                f"documented templates: {', '.join(self._templates)}"
            )
        return best[1], best[2]

    def _entry(self, method: str, path: str) -> tuple[Mapping[str, Any], dict[str, str]]:
        """The bundle's operation entry for ``method path`` plus the path-parameter values."""
        template, params = self.match_path(path)
        entry = self._openapi["operations"].get(f"{method.upper()} {template}")
        if entry is None:
            documented = sorted(op["method"] for op in self._openapi["operations"].values() if op["path"] == template)
            raise SpecLookupError(
                f"{method.upper()} is not documented for {template} (from {path!r}); documented: {documented}"
            )
        return entry, params

    def match_operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The documented operation for ``method path`` and the path-parameter values taken from ``path``."""
        entry, params = self._entry(method, path)
        return self._operation(entry), params

    # -- REST: validation -------------------------------------------------------------------------------

    def _check(self, cache_key: str, schema: Any, instance: object, subject: str) -> None:
        errors = list(self._validator(cache_key, schema).iter_errors(instance))
        if errors:
            raise SchemaViolationError(subject, _violations(errors))

    @staticmethod
    def _json_schema(content: Mapping[str, Any]) -> Any | None:
        if not content:
            return None
        media = content.get(_JSON) or next(iter(content.values()))
        return media["schema"]

    def _error_forms(self, status: int) -> list[tuple[str, Any]]:
        """The error-body shapes Kalshi uses (NOTES §4), as (label, JSON Schema) pairs."""
        error_object = {
            "allOf": [{"$ref": OPENAPI_URI + ERROR_RESPONSE_REF}],
            "type": "object",
            "required": list(ERROR_REQUIRED_FIELDS),
        }
        forms = [
            ("flat ErrorResponse {code, message, details}", error_object),
            (
                'nested {"error": ErrorResponse}',
                {"type": "object", "required": ["error"], "properties": {"error": error_object}},
            ),
        ]
        if status == 429:
            forms.append(
                (
                    'rate-limit {"error": "<string>"}',
                    {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                )
            )
        return forms

    def _check_error_body(self, status: int, body: object, subject: str) -> None:
        """Pass if ``body`` matches any accepted error form; otherwise report each form's violations."""
        collected: list[Violation] = []
        for label, schema in self._error_forms(status):
            errors = list(self._validator(f"error-form {label}", schema).iter_errors(body))
            if not errors:
                return
            collected.extend(
                Violation(violation.path, f"as {label}: {violation.message}", violation.keyword)
                for violation in _violations(errors)
            )
        raise SchemaViolationError(f"{subject} (matches none of Kalshi's error forms)", collected)

    def validate_rest_response(self, method: str, path: str, status: int, body: object) -> None:
        """Validate a decoded JSON response ``body`` (``None`` for no body) for ``method path`` -> ``status``.

        ``path`` may be a template (``/markets/{ticker}``) or a concrete path, with or without
        ``/trade-api/v2``, host or query string. Statuses are looked up exactly, then as ``4XX``-style ranges,
        then ``default``. Error statuses documented with the shared ``ErrorResponse``, documented by
        description only, or not listed at all (every Kalshi error uses that shape) accept the flat
        ``{code, message, details}`` form, the nested ``{"error": {...}}`` form, and for 429
        ``{"error": "too many requests"}``. A success status the spec does not list raises
        :class:`SpecLookupError` (pass the documented one, e.g. 201 for creates).
        """
        entry, _ = self._entry(method, path)
        subject = f"{entry['method']} {entry['path']} -> {status} response"
        responses = entry["responses"]
        key = next(
            (candidate for candidate in (str(status), f"{status // 100}XX", "default") if candidate in responses),
            None,
        )
        if key is None:
            if status >= 400:
                self._check_error_body(status, body, subject)
                return
            raise SpecLookupError(
                f"{subject}: status {status} is not documented (documented: {', '.join(sorted(responses))})"
            )
        schema = self._json_schema(responses[key]["content"])
        if schema is None and status >= 400:
            # Many error responses are documented by description only; Kalshi still sends its error shape.
            self._check_error_body(status, body, subject)
            return
        if schema is None:
            if body not in _NO_BODY:
                raise SchemaViolationError(subject, [Violation("$", f"spec documents no body for {key}", "content")])
            return
        if schema == {"$ref": ERROR_RESPONSE_REF}:
            self._check_error_body(status, body, subject)
            return
        converted = to_json_schema(schema, OPENAPI_URI, openapi=True)
        self._check(f"response {entry['method']} {entry['path']} {key}", converted, body, subject)

    def validate_rest_request(self, method: str, path: str, body: object) -> None:
        """Validate a decoded JSON request ``body`` (``None`` = no body) for ``method path``."""
        entry, _ = self._entry(method, path)
        subject = f"{entry['method']} {entry['path']} request body"
        request = entry["request_body"]
        if request is None:
            if body not in _NO_BODY:
                raise SchemaViolationError(subject, [Violation("$", "operation takes no request body", "requestBody")])
            return
        if body is None:
            if request["required"]:
                raise SchemaViolationError(subject, [Violation("$", "request body is required", "requestBody")])
            return
        schema = self._json_schema(request["content"])
        if schema is None:
            raise SpecLookupError(f"{subject}: the spec documents no JSON schema for it")
        converted = to_json_schema(schema, OPENAPI_URI, openapi=True)
        self._check(f"request {entry['method']} {entry['path']}", converted, body, subject)

    def validate_schema(self, name: str, instance: object, *, api: str = "openapi") -> None:
        """Validate ``instance`` against one named component schema (``api`` is openapi or asyncapi)."""
        uri, schemas = {"openapi": (OPENAPI_URI, self._openapi), "asyncapi": (ASYNCAPI_URI, self._asyncapi)}[api]
        if name not in schemas["schemas"]:
            raise SpecLookupError(f"no {api} component schema named {name!r}")
        ref = {"$ref": f"{uri}#/components/schemas/{name}"}
        self._check(f"{api} schema {name}", ref, instance, f"{api} schema {name}")

    # -- WebSocket ----------------------------------------------------------------------------------------

    def _payload_schema(self, message_key: str) -> Mapping[str, Any]:
        payload = self._asyncapi["messages"][message_key]["payload"]
        ref = payload.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return self._asyncapi["schemas"][ref.removeprefix("#/components/schemas/")]
        return payload

    def _index_ws_messages(self) -> dict[tuple[str, str], list[str]]:
        """Map (discriminator, value) to message keys: ``type`` for server messages, ``cmd`` for commands.

        Several messages may share a value (``ok`` has four shapes; ``market_lifecycle_v2`` two).
        """
        index: dict[tuple[str, str], list[str]] = {}
        for key in sorted(self._asyncapi["messages"]):
            properties = self._payload_schema(key).get("properties", {})
            for discriminator in ("type", "cmd"):
                field = properties.get(discriminator, {})
                values = [field["const"]] if "const" in field else field.get("enum", [])
                for value in values:
                    index.setdefault((discriminator, value), []).append(key)
        return index

    def covered_ws_messages(self) -> list[tuple[str, str, str]]:
        """Every message as ``(discriminator, value, message key)``, e.g. ``("type", "ticker", "ticker")``."""
        return sorted((disc, value, key) for (disc, value), keys in self._ws_index.items() for key in keys)

    def ws_channels(self) -> dict[str, list[str]]:
        """Channel name -> message keys it carries."""
        return {name: list(channel["messages"]) for name, channel in self._asyncapi["channels"].items()}

    def validate_ws_message(self, message: object) -> None:
        """Validate one decoded WebSocket frame against the AsyncAPI message its ``type`` names.

        Client commands (``{"cmd": "subscribe", ...}``) are matched on ``cmd`` instead. When several
        messages share a type, the frame passes if it conforms to any of them.
        """
        if not isinstance(message, dict):
            raise SchemaViolationError("WS message", [Violation("$", "a WS message must be a JSON object", "type")])
        discriminator = "type" if "type" in message else "cmd" if "cmd" in message else None
        if discriminator is None:
            raise SpecLookupError(f"WS message has neither 'type' nor 'cmd': {message!r:.200}")
        value = message[discriminator]
        candidates = self._ws_index.get((discriminator, value)) if isinstance(value, str) else None
        if not candidates:
            known = sorted(v for d, v in self._ws_index if d == discriminator)
            raise SpecLookupError(f"no AsyncAPI message has {discriminator} {value!r}; known: {', '.join(known)}")
        collected: list[Violation] = []
        for key in candidates:
            payload = to_json_schema(self._asyncapi["messages"][key]["payload"], ASYNCAPI_URI, openapi=False)
            errors = list(self._validator(f"ws {key}", payload).iter_errors(message))
            if not errors:
                return
            label = f"as {key}: " if len(candidates) > 1 else ""
            collected.extend(
                Violation(violation.path, label + violation.message, violation.keyword)
                for violation in _violations(errors)
            )
        raise SchemaViolationError(f"WS {discriminator} {value!r} message", collected)


# ---------------------------------------------------------------------------------------------------------
# Module-level API over the committed bundle


@functools.cache
def default_schemas() -> KalshiSchemas:
    """The checker for the committed bundle, loaded once per process."""
    return KalshiSchemas.from_file(DEFAULT_BUNDLE_PATH)


def validate_rest_response(method: str, path: str, status: int, body: object) -> None:
    """See :meth:`KalshiSchemas.validate_rest_response`."""
    default_schemas().validate_rest_response(method, path, status, body)


def validate_rest_request(method: str, path: str, body: object) -> None:
    """See :meth:`KalshiSchemas.validate_rest_request`."""
    default_schemas().validate_rest_request(method, path, body)


def validate_ws_message(message: object) -> None:
    """See :meth:`KalshiSchemas.validate_ws_message`."""
    default_schemas().validate_ws_message(message)


def validate_schema(name: str, instance: object, *, api: str = "openapi") -> None:
    """See :meth:`KalshiSchemas.validate_schema`."""
    default_schemas().validate_schema(name, instance, api=api)


def covered_operations() -> list[tuple[str, str]]:
    """See :meth:`KalshiSchemas.covered_operations`."""
    return default_schemas().covered_operations()


def covered_ws_messages() -> list[tuple[str, str, str]]:
    """See :meth:`KalshiSchemas.covered_ws_messages`."""
    return default_schemas().covered_ws_messages()


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]]:
    """See :meth:`KalshiSchemas.match_operation`."""
    return default_schemas().match_operation(method, path)
