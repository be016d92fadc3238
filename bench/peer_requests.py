"""The side-by-side benchmarks' requests: every send unique, as OTLP protobuf and Zipkin JSON v2.

The ingest benchmark replays a small pool of pre-encoded requests. Counting what a system
stored needs every send to carry its own traces (a store that keys spans by id keeps one copy
of a replayed span, another keeps every copy), so each send here is a pool request whose trace
ids start with the send's number: 4 bytes written in place into the pre-encoded bytes at
offsets found once, a few microseconds per send instead of an encode.

The Zipkin JSON of a pool request is built once from the same protobuf (as the OpenTelemetry
Collector's Zipkin exporter maps OTLP: resource attributes and span attributes become tags,
events become annotations, an error status the ``error`` tag) and patched the same way.
"""

from __future__ import annotations

import orjson
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# A Span's trace_id is field 1, 16 bytes: the tag and length bytes that precede every id.
_TRACE_ID_FIELD = b"\x0a\x10"
_PREFIX_BYTES = 4
_KINDS = {
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}


def _value(value: common_pb2.AnyValue) -> str:
    which = value.WhichOneof("value")
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "string_value":
        return value.string_value
    if which in ("int_value", "double_value"):
        return str(getattr(value, which))
    return orjson.dumps(str(value)).decode()


def to_zipkin(request: bytes) -> list[dict[str, object]]:
    """An OTLP ExportTraceServiceRequest as Zipkin v2 spans (dicts, ready for JSON)."""
    parsed = trace_service_pb2.ExportTraceServiceRequest()
    parsed.ParseFromString(request)
    spans: list[dict[str, object]] = []
    for resource_spans in parsed.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = resource.pop("service.name", "unknown_service")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                tags = dict(resource)
                tags.update((kv.key, _value(kv.value)) for kv in span.attributes)
                if span.status.code == trace_pb2.Status.STATUS_CODE_ERROR:
                    tags["otel.status_code"] = "ERROR"
                    tags["error"] = span.status.message or "true"
                start_us = span.start_time_unix_nano // 1000
                zipkin: dict[str, object] = {
                    "traceId": span.trace_id.hex(),
                    "id": span.span_id.hex(),
                    "name": span.name,
                    "timestamp": start_us,
                    "duration": max(
                        1, (span.end_time_unix_nano - span.start_time_unix_nano) // 1000
                    ),
                    "localEndpoint": {"serviceName": service},
                    "tags": tags,
                }
                if span.parent_span_id:
                    zipkin["parentId"] = span.parent_span_id.hex()
                if span.kind in _KINDS:
                    zipkin["kind"] = _KINDS[span.kind]
                if span.events:
                    zipkin["annotations"] = [
                        {"timestamp": event.time_unix_nano // 1000, "value": event.name}
                        for event in span.events
                    ]
                spans.append(zipkin)
    return spans


class UniqueRequests:
    """Pool requests made unique per send: send ``n`` is pool request ``n % len(pool)`` with
    every trace id's first 4 bytes set to ``n`` (so ``n`` < 2**32 sends never share a trace).

    ``encoding`` "otlp" sends the protobuf bytes, "zipkin" the Zipkin JSON v2 of the same spans.
    """

    def __init__(self, pool: list[bytes], encoding: str = "otlp") -> None:
        self.encoding = encoding
        self.templates: list[bytes] = []
        self.offsets: list[list[int]] = []
        # Each pool request's trace ids without their prefix (a send's ids are its prefix +
        # these) and how many spans each trace has.
        self.trace_suffixes: list[dict[bytes, int]] = []
        for request in pool:
            parsed = trace_service_pb2.ExportTraceServiceRequest()
            parsed.ParseFromString(request)
            ids = [
                span.trace_id
                for resource_spans in parsed.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]
            suffixes: dict[bytes, int] = {}
            for trace_id in ids:
                suffix = trace_id[_PREFIX_BYTES:]
                suffixes[suffix] = suffixes.get(suffix, 0) + 1
            self.trace_suffixes.append(suffixes)
            if encoding == "otlp":
                body, needles, width = request, [_TRACE_ID_FIELD + i for i in set(ids)], 2
            elif encoding == "zipkin":
                body = orjson.dumps(to_zipkin(request))
                needles, width = [b'"traceId":"' + i.hex().encode() for i in set(ids)], 11
            else:
                raise ValueError(f"unknown encoding {encoding!r}")
            self.templates.append(body)
            self.offsets.append(sorted(_find_all(body, needles, width)))
        self.spans_per_request = len(ids)

    def __len__(self) -> int:
        return len(self.templates)

    def send(self, n: int) -> bytes:
        index = n % len(self.templates)
        body = bytearray(self.templates[index])
        prefix = n.to_bytes(_PREFIX_BYTES, "big")
        if self.encoding == "zipkin":
            prefix = prefix.hex().encode()
        width = len(prefix)
        for offset in self.offsets[index]:
            body[offset : offset + width] = prefix
        return bytes(body)

    def trace_spans(self, n: int) -> dict[str, int]:
        """The hex trace ids send ``n`` carries, each with its number of spans."""
        prefix = n.to_bytes(_PREFIX_BYTES, "big")
        suffixes = self.trace_suffixes[n % len(self.templates)]
        return {(prefix + suffix).hex(): spans for suffix, spans in suffixes.items()}


def _find_all(body: bytes, needles: list[bytes], skip: int) -> list[int]:
    """Where each needle's id starts (after ``skip`` bytes of field tag), every occurrence."""
    found = []
    for needle in needles:
        at = body.find(needle)
        while at >= 0:
            found.append(at + skip)
            at = body.find(needle, at + len(needle))
    return found
