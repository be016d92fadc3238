"""``SpanBatch`` to OTLP protobuf (``ExportTraceServiceRequest``), for forwarding and tests."""

from __future__ import annotations

import base64
import operator
from collections import defaultdict
from collections.abc import Sequence
from itertools import islice, pairwise
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from breadcrumbs.codec.otlp.columns import _CACHE_MAX_ENTRIES, _INT64_MAX
from breadcrumbs.codec.otlp.shadow import (
    _ShadowEvent,
    _ShadowLink,
    _ShadowRequest,
    _ShadowResource,
    _ShadowResourceSpans,
    _ShadowScope,
    _ShadowScopeSpans,
    _ShadowSpan,
)
from breadcrumbs.model import (
    UNKNOWN_SERVICE,
    SpanBatch,
)


def encode_proto(batch: SpanBatch) -> bytes:
    """A ``SpanBatch`` as a serialized ``ExportTraceServiceRequest``, one ``ResourceSpans``
    per distinct resource and one ``ScopeSpans`` per scope in it (first-seen order).

    A resource without ``service.name`` gets it from ``ServiceName`` (unless that is the
    unknown-service default), so the service survives the trip.
    """
    if batch.num_rows == 0:
        return b""
    batch = batch.combine_chunks()

    def column(name: str) -> pa.Array:
        return batch.column(name).chunk(0)

    def values(name: str) -> list[Any]:
        items: list[Any] = column(name).to_pylist()
        return items

    encoded = _encoded_attributes()
    span_attributes = _attribute_rows(
        column("SpanAttributes"), column("SpanAttributeTypes"), encoded
    )
    resource_attributes = _attribute_rows(
        column("ResourceAttributes"), column("ResourceAttributeTypes"), encoded
    )
    events = _event_rows(column("Events"), encoded)
    links = _link_rows(column("Links"), encoded)
    trace_ids, span_ids, parent_ids = values("TraceId"), values("SpanId"), values("ParentSpanId")
    states, names, kinds = values("TraceState"), values("SpanName"), values("SpanKind")
    starts, durations = values("Timestamp"), values("Duration")
    status_codes, status_messages = values("StatusCode"), values("StatusMessage")
    services, scope_names, scope_versions = (
        values("ServiceName"),
        values("ScopeName"),
        values("ScopeVersion"),
    )
    resources: dict[tuple[Any, ...], dict[tuple[str, str], list[Any]]] = defaultdict(dict)
    resource_messages: dict[tuple[Any, ...], Any] = {}
    for i in range(batch.num_rows):
        service = services[i]
        key = (*resource_attributes[i], service)
        if key not in resource_messages:
            attributes = resource_attributes[i]
            names_in = {common_pb2.KeyValue.FromString(raw).key for raw in attributes}
            if service != UNKNOWN_SERVICE and "service.name" not in names_in:
                attributes = [*attributes, _raw_attribute("service.name", service, "s", encoded)]
            resource_messages[key] = _ShadowResource(attributes=attributes)
        start = starts[i]
        span = _ShadowSpan(
            trace_id=bytes.fromhex(trace_ids[i]),
            span_id=bytes.fromhex(span_ids[i]),
            parent_span_id=bytes.fromhex(parent_ids[i]),
            trace_state=states[i],
            name=names[i],
            kind=kinds[i],
            start_time_unix_nano=start,
            end_time_unix_nano=start + durations[i],
            attributes=span_attributes[i],
            events=events[i],
            links=links[i],
            status=_status(status_codes[i], status_messages[i]),
        )
        resources[key].setdefault((scope_names[i], scope_versions[i]), []).append(span)
    request = _ShadowRequest(
        resource_spans=[
            _ShadowResourceSpans(
                resource=resource_messages[key],
                scope_spans=[
                    _ShadowScopeSpans(scope=_ShadowScope(name=name, version=version), spans=spans)
                    for (name, version), spans in scopes.items()
                ],
            )
            for key, scopes in resources.items()
        ]
    )
    data: bytes = request.SerializeToString()
    return data


_Encoded: TypeAlias = dict[tuple[str, str, str], bytes]
_encoded: _Encoded = {}


def _encoded_attributes() -> _Encoded:
    """(key, text, code) -> raw ``KeyValue`` bytes; replaced (never cleared) when full."""
    global _encoded
    if len(_encoded) > _CACHE_MAX_ENTRIES:
        _encoded = {}
    return _encoded


def _raw_attribute(key: str, text: str, code: str, encoded: _Encoded) -> bytes:
    raw = encoded.get((key, text, code))
    if raw is None:
        kv = common_pb2.KeyValue(key=key, value=_any_value(text, code))
        raw = encoded[(key, text, code)] = kv.SerializeToString()
    return raw


def _attribute_rows(maps: pa.Array, types: pa.Array, encoded: _Encoded) -> list[list[bytes]]:
    """Each row's attributes as raw ``KeyValue`` bytes (one dict lookup per attribute)."""
    offsets = maps.offsets.to_pylist()  # absolute positions in .keys/.items, even when sliced
    first, last = offsets[0], offsets[-1]
    keys = maps.keys.to_pylist()[first:last]
    texts = maps.items.to_pylist()[first:last]
    codes = types.to_pylist()
    if list(map(len, codes)) == list(map(operator.sub, islice(offsets, 1, None), offsets)):
        flat_codes: Sequence[str] = "".join(codes)
    else:  # not from our decoders: a missing code reads as a string
        flat_codes = [
            c[j] if j < len(c) else "s"
            for c, (start, end) in zip(codes, pairwise(offsets), strict=True)
            for j in range(end - start)
        ]
    triples = list(zip(keys, texts, flat_codes, strict=True))
    raws: list[bytes | None] = list(map(encoded.get, triples))
    i = -1
    while True:
        try:
            i = raws.index(None, i + 1)
        except ValueError:
            break
        raws[i] = _raw_attribute(*triples[i], encoded)
    return [raws[start - first : end - first] for start, end in pairwise(offsets)]  # type: ignore[misc]


def _event_rows(events: pa.Array, encoded: _Encoded) -> list[list[Any]]:
    offsets = events.offsets.to_pylist()
    if offsets[0] == offsets[-1]:
        return [[] for _ in range(len(events))]
    # .values: absolute positions, like the offsets; flatten(): fields cut to the struct's slice
    times, names, maps, types = events.values.flatten()
    times, names = times.to_pylist(), names.to_pylist()
    attributes = _attribute_rows(maps, types, encoded)
    messages = [
        _ShadowEvent(time_unix_nano=t, name=n, attributes=a)
        for t, n, a in zip(times, names, attributes, strict=True)
    ]
    return [messages[start:end] for start, end in pairwise(offsets)]


def _link_rows(links: pa.Array, encoded: _Encoded) -> list[list[Any]]:
    offsets = links.offsets.to_pylist()
    if offsets[0] == offsets[-1]:
        return [[] for _ in range(len(links))]
    trace_id_column, span_id_column, state_column, maps, types = links.values.flatten()
    trace_ids, span_ids = trace_id_column.to_pylist(), span_id_column.to_pylist()
    states = state_column.to_pylist()
    attributes = _attribute_rows(maps, types, encoded)
    messages = [
        _ShadowLink(
            trace_id=bytes.fromhex(t), span_id=bytes.fromhex(s), trace_state=st, attributes=a
        )
        for t, s, st, a in zip(trace_ids, span_ids, states, attributes, strict=True)
    ]
    return [messages[start:end] for start, end in pairwise(offsets)]


def _status(code: int, message: str) -> bytes:
    if not code and not message:
        return b""
    data: bytes = trace_pb2.Status(code=code, message=message).SerializeToString()  # type: ignore[arg-type]
    return data


def _any_value(text: str, code: str) -> Any:
    """An attribute's value text and type code as an ``AnyValue``."""
    if code == "a" or code == "m":
        return _any_from_python(orjson.loads(text))
    if code == "i":
        return common_pb2.AnyValue(int_value=int(text))
    if code == "d":
        return common_pb2.AnyValue(double_value=float(text))
    if code == "b":
        return common_pb2.AnyValue(bool_value=text == "true")
    if code == "y":
        return common_pb2.AnyValue(bytes_value=base64.b64decode(text))
    return common_pb2.AnyValue(string_value=text)


def _any_from_python(value: Any) -> Any:
    if value is None:
        return common_pb2.AnyValue()
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        if -(2**63) <= value <= _INT64_MAX:
            return common_pb2.AnyValue(int_value=value)
        return common_pb2.AnyValue(double_value=float(value))
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[_any_from_python(v) for v in value])
        )
    return common_pb2.AnyValue(
        kvlist_value=common_pb2.KeyValueList(
            values=[common_pb2.KeyValue(key=k, value=_any_from_python(v)) for k, v in value.items()]
        )
    )
