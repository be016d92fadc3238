"""The canonical span record: one Arrow schema shared by every codec, stage and store.

A batch of spans is a ``pyarrow.Table`` with exactly ``SPAN_SCHEMA`` (``SpanBatch``). Batches
are never mutated in place; a stage that changes spans returns a new table.

Attributes keep their OTLP type without a union type (which DuckDB, ClickHouse and pyarrow
compute handle poorly): values live in a ``map<string, string>`` and a parallel string of
one-letter type codes, one letter per map entry in map order. ``encode_value`` and
``decode_value`` are the one place that knows the encoding:

====  ==========  ==========================================================
code  OTLP type   value text
====  ==========  ==========================================================
s     string      the string itself
i     int         decimal integer (``-42``)
d     double      Python ``repr`` of the float (round-trips exactly; ``nan``, ``inf``)
b     bool        ``true`` / ``false``
y     bytes       standard base64
a     array       JSON array of the element values (bytes elements as base64)
m     kvlist      JSON object of the entry values (bytes values as base64)
====  ==========  ==========================================================

Searching compares the value text, so ``http.response.status_code=200`` matches an int tag,
as the Jaeger and Zipkin APIs expect.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeAlias

import orjson
import pyarrow as pa

from breadcrumbs.errors import BadInput

SpanBatch: TypeAlias = pa.Table
"""A batch of spans: a ``pyarrow.Table`` with ``SPAN_SCHEMA``. Never mutated in place."""

ATTRIBUTES_TYPE: Final = pa.map_(pa.string(), pa.string())

EVENT_TYPE: Final = pa.struct(
    [
        pa.field("Timestamp", pa.int64(), nullable=False),
        pa.field("Name", pa.string(), nullable=False),
        pa.field("Attributes", ATTRIBUTES_TYPE, nullable=False),
        pa.field("AttributeTypes", pa.string(), nullable=False),
    ]
)

LINK_TYPE: Final = pa.struct(
    [
        pa.field("TraceId", pa.string(), nullable=False),
        pa.field("SpanId", pa.string(), nullable=False),
        pa.field("TraceState", pa.string(), nullable=False),
        pa.field("Attributes", ATTRIBUTES_TYPE, nullable=False),
        pa.field("AttributeTypes", pa.string(), nullable=False),
    ]
)

SPAN_SCHEMA: Final = pa.schema(
    [
        pa.field("Timestamp", pa.int64(), nullable=False),  # start, ns since the Unix epoch, UTC
        pa.field("TraceId", pa.string(), nullable=False),  # 32 lowercase hex
        pa.field("SpanId", pa.string(), nullable=False),  # 16 lowercase hex
        pa.field("ParentSpanId", pa.string(), nullable=False),  # 16 lowercase hex, "" for a root
        pa.field("TraceState", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),  # SpanKind
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("ResourceAttributes", ATTRIBUTES_TYPE, nullable=False),
        pa.field("ResourceAttributeTypes", pa.string(), nullable=False),
        pa.field("ScopeName", pa.string(), nullable=False),
        pa.field("ScopeVersion", pa.string(), nullable=False),
        pa.field("SpanAttributes", ATTRIBUTES_TYPE, nullable=False),
        pa.field("SpanAttributeTypes", pa.string(), nullable=False),
        pa.field("Duration", pa.int64(), nullable=False),  # ns
        pa.field("StatusCode", pa.int8(), nullable=False),  # StatusCode
        pa.field("StatusMessage", pa.string(), nullable=False),
        pa.field("Events", pa.list_(pa.field("item", EVENT_TYPE, nullable=False)), nullable=False),
        pa.field("Links", pa.list_(pa.field("item", LINK_TYPE, nullable=False)), nullable=False),
    ]
)

COLUMNS: Final[tuple[str, ...]] = tuple(SPAN_SCHEMA.names)

UNKNOWN_SERVICE: Final = "unknown_service"
"""ServiceName when a resource has no ``service.name`` (the OpenTelemetry SDK default)."""


class SpanKind(IntEnum):
    """OTLP span kinds, with the OTLP enum values."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5

    @property
    def label(self) -> str:
        """Lowercase name as the Jaeger API and ``span.kind`` tags spell it (``server``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> SpanKind:
        """Accepts ``server``, ``SERVER``, ``SPAN_KIND_SERVER`` or ``2``."""
        cleaned = text.strip().upper().removeprefix("SPAN_KIND_")
        if cleaned.isascii() and cleaned.isdigit() and int(cleaned) in cls._value2member_map_:
            return cls(int(cleaned))
        try:
            return cls[cleaned]
        except KeyError:
            raise BadInput(f"unknown span kind {text!r}") from None


class StatusCode(IntEnum):
    """OTLP status codes, with the OTLP enum values."""

    UNSET = 0
    OK = 1
    ERROR = 2

    @property
    def label(self) -> str:
        """As the OpenTelemetry-to-Jaeger mapping spells it in ``otel.status_code``."""
        return self.name


# --- ids -----------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]+")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def normalize_trace_id(text: str) -> str:
    """Lowercase 32-hex trace id; 16-hex (64-bit Zipkin) ids are left-padded with zeros.

    Raises ``BadInput`` for anything else or an all-zero id.
    """
    if len(text) not in (16, 32) or not _HEX.fullmatch(text):
        raise BadInput(f"trace id must be 16 or 32 hex characters, got {text[:64]!r}")
    normalized = text.lower().rjust(32, "0")
    if normalized == _ZERO_TRACE:
        raise BadInput("trace id must not be all zeros")
    return normalized


def normalize_span_id(text: str) -> str:
    """Lowercase 16-hex span id; raises ``BadInput`` for anything else or all zeros."""
    if len(text) != 16 or not _HEX.fullmatch(text):
        raise BadInput(f"span id must be 16 hex characters, got {text[:64]!r}")
    normalized = text.lower()
    if normalized == _ZERO_SPAN:
        raise BadInput("span id must not be all zeros")
    return normalized


# --- attribute values ------------------------------------------------------------------------

AttributeValue: TypeAlias = (
    str | bool | int | float | bytes | Sequence["AttributeValue"] | Mapping[str, "AttributeValue"]
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def encode_value(value: AttributeValue) -> tuple[str, str]:
    """A Python attribute value as (value text, type code)."""
    # bool before int: bool is an int subclass.
    if isinstance(value, str):
        return value, "s"
    if isinstance(value, bool):
        return ("true" if value else "false"), "b"
    if isinstance(value, int):
        return str(value), "i"
    if isinstance(value, float):
        return repr(value), "d"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii"), "y"
    if isinstance(value, Mapping):
        return orjson.dumps(_jsonable(value)).decode(), "m"
    return orjson.dumps(_jsonable(list(value))).decode(), "a"


def decode_value(text: str, code: str) -> AttributeValue:
    """The inverse of ``encode_value``; unknown codes read as strings."""
    if code == "i":
        return int(text)
    if code == "d":
        return float(text)
    if code == "b":
        return text == "true"
    if code == "y":
        return base64.b64decode(text)
    if code in ("a", "m"):
        decoded: AttributeValue = orjson.loads(text)
        return decoded
    return text


def encode_attributes(
    attributes: Mapping[str, AttributeValue],
) -> tuple[list[tuple[str, str]], str]:
    """Attributes as (map entries, type codes), ready for an ``ATTRIBUTES_TYPE`` column."""
    entries: list[tuple[str, str]] = []
    codes: list[str] = []
    for key, value in attributes.items():
        text, code = encode_value(value)
        entries.append((key, text))
        codes.append(code)
    return entries, "".join(codes)


def decode_attributes(entries: Sequence[tuple[str, str]], codes: str) -> dict[str, AttributeValue]:
    """Map entries (as pyarrow's ``to_pylist`` returns them) and type codes back to values."""
    return {
        key: decode_value(text, codes[i] if i < len(codes) else "s")
        for i, (key, text) in enumerate(entries)
    }


# --- building batches ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    timestamp_ns: int
    name: str
    attributes: Mapping[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class Link:
    trace_id: str
    span_id: str
    trace_state: str = ""
    attributes: Mapping[str, AttributeValue] | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """One span as plain Python values.

    For tests, fixtures and generators only: the hot path builds columns directly and never
    makes one of these per span.
    """

    trace_id: str
    span_id: str
    name: str
    service: str
    start_ns: int
    duration_ns: int
    parent_span_id: str = ""
    kind: SpanKind = SpanKind.INTERNAL
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""
    attributes: Mapping[str, AttributeValue] | None = None
    resource: Mapping[str, AttributeValue] | None = None
    scope_name: str = ""
    scope_version: str = ""
    trace_state: str = ""
    events: Sequence[Event] = ()
    links: Sequence[Link] = ()


def batch_from_spans(spans: Sequence[Span]) -> SpanBatch:
    """A ``SpanBatch`` from ``Span`` values (tests and generators)."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for span in spans:
        resource = dict(span.resource or {})
        resource.setdefault("service.name", span.service)
        resource_entries, resource_codes = encode_attributes(resource)
        span_entries, span_codes = encode_attributes(span.attributes or {})
        events = []
        for event in span.events:
            entries, codes = encode_attributes(event.attributes)
            events.append(
                {
                    "Timestamp": event.timestamp_ns,
                    "Name": event.name,
                    "Attributes": entries,
                    "AttributeTypes": codes,
                }
            )
        links = []
        for link in span.links:
            entries, codes = encode_attributes(link.attributes or {})
            links.append(
                {
                    "TraceId": link.trace_id,
                    "SpanId": link.span_id,
                    "TraceState": link.trace_state,
                    "Attributes": entries,
                    "AttributeTypes": codes,
                }
            )
        row = {
            "Timestamp": span.start_ns,
            "TraceId": span.trace_id,
            "SpanId": span.span_id,
            "ParentSpanId": span.parent_span_id,
            "TraceState": span.trace_state,
            "SpanName": span.name,
            "SpanKind": int(span.kind),
            "ServiceName": span.service,
            "ResourceAttributes": resource_entries,
            "ResourceAttributeTypes": resource_codes,
            "ScopeName": span.scope_name,
            "ScopeVersion": span.scope_version,
            "SpanAttributes": span_entries,
            "SpanAttributeTypes": span_codes,
            "Duration": span.duration_ns,
            "StatusCode": int(span.status),
            "StatusMessage": span.status_message,
            "Events": events,
            "Links": links,
        }
        for name in COLUMNS:
            columns[name].append(row[name])
    return pa.Table.from_pydict(columns, schema=SPAN_SCHEMA)


def empty_batch() -> SpanBatch:
    return SPAN_SCHEMA.empty_table()


def concat_batches(batches: Sequence[SpanBatch]) -> SpanBatch:
    """One table from many, without copying column data."""
    if not batches:
        return empty_batch()
    return pa.concat_tables(batches)
