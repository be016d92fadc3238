"""OTLP/JSON (``ExportTraceServiceRequest``) to ``SpanBatch``."""

from __future__ import annotations

from itertools import repeat
from typing import Any, Final

import orjson
from opentelemetry.proto.trace.v1 import trace_pb2

from breadcrumbs.codec.base import (
    DROPPED_EVENTS_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.codec.otlp.columns import DEFAULT_LIMITS, _add_links, _marker, _Spans
from breadcrumbs.codec.otlp.values import _SCALAR_NAMES, _bad, _field, _json_int, _json_python, _Raw
from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    encode_value,
)


def decode_json(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """An OTLP/JSON ``ExportTraceServiceRequest`` as a ``SpanBatch``.

    As the OTLP spec has it: lowerCamelCase field names (snake_case accepted too), hex trace
    and span ids (any case), enums as ints (names accepted too), 64-bit ints as strings or
    numbers, bytes as base64, unknown fields ignored. A malformed id only rejects its span
    (or drops its link); a document of the wrong shape is a ``BadInput``.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"malformed OTLP/JSON request: {exc}") from None
    try:
        return _decode_json(document, limits)
    except BadInput:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        raise BadInput(f"malformed OTLP/JSON request: {exc!r}") from None


def _json_uint64(value: Any, name: str) -> int:
    """Out-of-range times read as 0, which the time checks then reject with a reason."""
    if value is None:
        return 0
    number = _json_int(value, name)
    return number if 0 <= number < 2**64 else 0


def _json_enum(value: Any, names: dict[str, int], name: str) -> int:
    if value is None:
        return 0
    if type(value) is str and value in names:
        return names[value]
    number = _json_int(value, name)
    return number if 0 <= number <= 127 else 0  # unknown values read as 0 anyway


def _json_id(value: Any) -> bytes:
    """Hex id bytes; anything malformed is b"" (rejected later with the span's reason)."""
    if type(value) is not str:
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


_KIND_NAMES: Final = {name: int(v) for name, v in trace_pb2.Span.SpanKind.items()}
_STATUS_NAMES: Final = {name: int(v) for name, v in trace_pb2.Status.StatusCode.items()}


def _json_attributes(items: Any) -> list[_Raw]:
    """OTLP/JSON KeyValues as raw attributes (see ``_Raw``).

    Strings, ints and bools are passed on as they are: the cache checks and converts them
    once per distinct value. Only doubles (``-0.0 == 0.0`` and ``nan != nan`` would confuse
    the cache) and arrays, kvlists and bytes are converted here.
    """
    if items is None:
        return []
    if type(items) is not list:
        raise _bad("attributes must be a list")
    raws: list[_Raw] = []
    append = raws.append
    for kv in items:
        if type(kv) is dict:
            key = kv.get("key")
            value = kv.get("value")
            if type(key) is str and type(value) is dict and len(value) == 1:
                ((name, inner),) = value.items()
                kind = type(inner)
                if (kind is str or kind is int or kind is bool) and name in _SCALAR_NAMES:
                    append((key, name, inner))
                    continue
        key = _field(kv, "key", str, "")
        python = _json_python(_field(kv, "value", dict, {}))
        text, code = ("", "s") if python is None else encode_value(python)
        append((key, "", text, code))
    return raws


def _decode_json(document: Any, limits: DecodeLimits) -> DecodeResult:
    resource_spans_list = _field(document, "resourceSpans", list, [], "resource_spans")
    scope_spans_lists = [
        _field(rs, "scopeSpans", list, [], "scope_spans") for rs in resource_spans_list
    ]
    total = sum(len(_field(ss, "spans", list, [])) for sss in scope_spans_lists for ss in sss)
    if total > limits.max_spans:
        raise BadInput(f"too many spans in one request: {total} > {limits.max_spans}")
    out = _Spans()
    status_codes: list[int] = []
    status_messages: list[str] = []
    attributes = out.attributes
    for r, resource_spans in enumerate(resource_spans_list):
        resource = _field(resource_spans, "resource", dict, {})
        out.resources.add_row(_json_attributes(resource.get("attributes")))
        for scope_spans in scope_spans_lists[r]:
            scope = _field(scope_spans, "scope", dict, {})
            s = len(out.scope_names)
            out.scope_names.append(_field(scope, "name", str, ""))
            out.scope_versions.append(_field(scope, "version", str, ""))
            spans = _field(scope_spans, "spans", list, [])
            out.resource_index.extend(repeat(r, len(spans)))
            out.scope_index.extend(repeat(s, len(spans)))
            for span in spans:
                if type(span) is not dict:
                    raise _bad("a span must be an object")
                get = span.get
                # lowerCamelCase first, snake_case when absent (inline: this is per span)
                value = get("traceId")
                out.trace_ids.append(_json_id(get("trace_id") if value is None else value))
                value = get("spanId")
                out.span_ids.append(_json_id(get("span_id") if value is None else value))
                value = get("parentSpanId")
                value = get("parent_span_id") if value is None else value
                out.parent_ids.append(_json_id(value) if value else b"")
                out.trace_states.append(_field(span, "traceState", str, "", "trace_state"))
                out.names.append(_field(span, "name", str, ""))
                out.kinds.append(_json_enum(get("kind"), _KIND_NAMES, "kind"))
                value = get("startTimeUnixNano")
                value = get("start_time_unix_nano") if value is None else value
                out.starts.append(_json_uint64(value, "startTimeUnixNano"))
                value = get("endTimeUnixNano")
                value = get("end_time_unix_nano") if value is None else value
                out.ends.append(_json_uint64(value, "endTimeUnixNano"))
                status = get("status")
                if status:
                    code = _json_enum(
                        _field(span, "status", dict, {}).get("code"), _STATUS_NAMES, "code"
                    )
                    status_codes.append(code)
                    status_messages.append(_field(status, "message", str, ""))
                else:
                    status_codes.append(0)
                    status_messages.append("")
                attributes.add_row(_json_attributes(get("attributes")))
                events = get("events")
                if events:
                    _json_events(out, _field(span, "events", list, []), limits)
                out.event_offsets.append(len(out.event_times))
                links = get("links")
                if links:
                    _json_links(out, _field(span, "links", list, []), limits)
                out.link_offsets.append(len(out.link_trace_ids))
    out.status_codes, out.status_messages = status_codes, status_messages
    return out.finish(limits)


def _json_events(out: _Spans, events: list[Any], limits: DecodeLimits) -> None:
    if len(events) > limits.max_events:
        out.attributes.extra.setdefault(len(out.trace_ids) - 1, []).append(
            _marker(DROPPED_EVENTS_KEY, len(events) - limits.max_events)
        )
    for event in events[: limits.max_events]:
        out.event_names.append(_field(event, "name", str, ""))  # checks it is an object, too
        time_ns = event.get("timeUnixNano", event.get("time_unix_nano"))
        out.event_times.append(_json_uint64(time_ns, "timeUnixNano"))
        out.event_attributes.add_row(_json_attributes(event.get("attributes")))


def _json_links(out: _Spans, links: list[Any], limits: DecodeLimits) -> None:
    _add_links(
        out,
        [
            (
                _json_id(_field(link, "traceId", str, "", "trace_id")),
                _json_id(_field(link, "spanId", str, "", "span_id")),
                _field(link, "traceState", str, "", "trace_state"),
                _json_attributes(link.get("attributes")),
            )
            for link in links[: limits.max_links]
        ],
        len(links),
    )
