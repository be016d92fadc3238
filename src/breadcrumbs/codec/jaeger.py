"""SpanBatch -> the Jaeger UI JSON model (out only), as Jaeger's query service renders it.

The shape is ``model/json/model.go`` of jaegertracing/jaeger; how OpenTelemetry spans map in
follows ``pkg/translator/jaeger/traces_to_jaegerproto.go`` of the Collector contrib:

- references: ``CHILD_OF`` the parent first, then ``FOLLOWS_FROM`` each link;
- tags, in this order: ``otel.scope.name``/``otel.scope.version``, the span attributes (typed:
  string, int64, float64, bool, binary as base64; arrays and maps as JSON strings), ``span.kind``
  (client/server/producer/consumer/internal; none when unspecified), ``otel.status_code``
  (OK/ERROR, none when unset), ``error=true`` on error spans, ``otel.status_description``,
  ``w3c.tracestate``. A synthesized tag is skipped when an attribute already has its key;
- logs from events: an ``event`` field with the name, then the event attributes (so an
  exception event shows ``exception.type``/``exception.message``/``exception.stacktrace``);
- processes ``p1``, ``p2`` ... in first-seen order, one per distinct (service name, resource
  attributes minus ``service.name``).
Times are µs since the epoch, durations µs (truncated, as Jaeger does).

``to_otlp_json`` renders the Jaeger API v3 body instead: OTLP ``TracesData`` in the OTLP/JSON
encoding (camelCase names, hex ids, enums as integers, 64-bit integers as strings).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any, Final

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from breadcrumbs.codec.otlp import encode_proto
from breadcrumbs.model import SpanBatch, SpanKind, StatusCode

SAMPLED_FLAG: Final = 1  # every stored span was sampled
_KIND_TAG: Final = {
    SpanKind.CLIENT: "client",
    SpanKind.SERVER: "server",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
    SpanKind.INTERNAL: "internal",
}


def typed_tag(key: str, text: str, code: str) -> dict[str, Any]:
    """One Jaeger KeyValue from a stored value text and its type code (see ``model``)."""
    if code == "i":
        return {"key": key, "type": "int64", "value": int(text)}
    if code == "d":
        number = float(text)
        if math.isfinite(number):
            return {"key": key, "type": "float64", "value": number}
        return {"key": key, "type": "string", "value": text}  # JSON has no NaN/Inf
    if code == "b":
        return {"key": key, "type": "bool", "value": text == "true"}
    if code == "y":
        return {"key": key, "type": "binary", "value": text}  # base64, as Go renders []byte
    # strings, and arrays/maps as their JSON text (OTel's AsString)
    return {"key": key, "type": "string", "value": text}


def typed_tags(entries: Sequence[tuple[str, str]], codes: str) -> list[dict[str, Any]]:
    # Strings are most tags: build those inline, without a call per tag.
    return [
        {"key": key, "type": "string", "value": text} if code == "s" else typed_tag(key, text, code)
        for (key, text), code in zip(entries, codes.ljust(len(entries), "s"), strict=False)
    ]


def _string_tag(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "type": "string", "value": value}


def _span_tags(
    entries: list[tuple[str, str]],
    codes: str,
    kind: int,
    status: int,
    status_message: str,
    scope_name: str,
    scope_version: str,
    trace_state: str,
) -> list[dict[str, Any]]:
    present = {key for key, _ in entries}
    tags: list[dict[str, Any]] = []
    if scope_name:
        tags.append(_string_tag("otel.scope.name", scope_name))
    if scope_version:
        tags.append(_string_tag("otel.scope.version", scope_version))
    tags.extend(typed_tags(entries, codes))
    extra: list[dict[str, Any]] = []
    kind_label = _KIND_TAG.get(SpanKind(kind)) if kind in SpanKind._value2member_map_ else None
    if kind_label:
        extra.append(_string_tag("span.kind", kind_label))
    if status == StatusCode.ERROR:
        extra.append(_string_tag("otel.status_code", "ERROR"))
        extra.append({"key": "error", "type": "bool", "value": True})
    elif status == StatusCode.OK:
        extra.append(_string_tag("otel.status_code", "OK"))
    if status_message:
        extra.append(_string_tag("otel.status_description", status_message))
    if trace_state:
        extra.append(_string_tag("w3c.tracestate", trace_state))
    tags.extend(tag for tag in extra if tag["key"] not in present)
    return tags


def _logs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    logs = []
    for event in events:
        fields = typed_tags(event["Attributes"], event["AttributeTypes"])
        if event["Name"] and not any(field["key"] == "event" for field in fields):
            fields.insert(0, _string_tag("event", event["Name"]))
        logs.append({"timestamp": event["Timestamp"] // 1000, "fields": fields})
    return logs


def to_jaeger_trace(
    spans: SpanBatch, warnings: Sequence[Sequence[str]] | None = None
) -> dict[str, Any]:
    """One trace (all rows share a TraceId) as Jaeger's ``ui.Trace`` JSON object.

    ``warnings[i]`` are row ``i``'s adjuster warnings (rendered as the span's ``warnings``).
    """
    # Whole columns out of Arrow once; the per-span loop below only assembles JSON objects.
    col = {name: spans[name].to_pylist() for name in spans.column_names}
    processes: dict[tuple[str, tuple[tuple[str, str, str], ...]], str] = {}
    process_objects: dict[str, dict[str, Any]] = {}
    # Spans of one process share their resource: convert each distinct one once.
    seen_resources: dict[tuple[str, tuple[tuple[str, str], ...], str], str] = {}
    out_spans: list[dict[str, Any]] = []
    trace_id = col["TraceId"][0] if spans.num_rows else ""
    for i in range(spans.num_rows):
        service = col["ServiceName"][i]
        raw_key = (service, tuple(col["ResourceAttributes"][i]), col["ResourceAttributeTypes"][i])
        process_id = seen_resources.get(raw_key)
        if process_id is None:
            process_tags = [
                tag for tag in typed_tags(raw_key[1], raw_key[2]) if tag["key"] != "service.name"
            ]
            process_key = (
                service,
                tuple(sorted((t["key"], t["type"], str(t["value"])) for t in process_tags)),
            )
            process_id = processes.get(process_key)
            if process_id is None:
                process_id = f"p{len(processes) + 1}"
                processes[process_key] = process_id
                process_objects[process_id] = {"serviceName": service, "tags": process_tags}
            seen_resources[raw_key] = process_id

        references = []
        if col["ParentSpanId"][i]:
            references.append(
                {"refType": "CHILD_OF", "traceID": trace_id, "spanID": col["ParentSpanId"][i]}
            )
        for link in col["Links"][i]:
            references.append(
                {"refType": "FOLLOWS_FROM", "traceID": link["TraceId"], "spanID": link["SpanId"]}
            )
        span_warnings = list(warnings[i]) if warnings is not None and warnings[i] else None
        out_spans.append(
            {
                "traceID": col["TraceId"][i],
                "spanID": col["SpanId"][i],
                "flags": SAMPLED_FLAG,
                "operationName": col["SpanName"][i],
                "references": references,
                "startTime": col["Timestamp"][i] // 1000,
                "duration": col["Duration"][i] // 1000,
                "tags": _span_tags(
                    list(col["SpanAttributes"][i]),
                    col["SpanAttributeTypes"][i],
                    col["SpanKind"][i],
                    col["StatusCode"][i],
                    col["StatusMessage"][i],
                    col["ScopeName"][i],
                    col["ScopeVersion"][i],
                    col["TraceState"][i],
                ),
                "logs": _logs(col["Events"][i]),
                "processID": process_id,
                "warnings": span_warnings,
            }
        )
    return {
        "traceID": trace_id,
        "spans": out_spans,
        "processes": process_objects,
        "warnings": None,
    }


def _hex(value: str) -> str:
    return base64.b64decode(value).hex()


def to_otlp_json(batch: SpanBatch) -> dict[str, Any]:
    """OTLP/JSON ``TracesData`` (``{"resourceSpans": [...]}``) for the spans of ``batch``."""
    request = ExportTraceServiceRequest.FromString(encode_proto(batch))
    data: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    data.setdefault("resourceSpans", [])
    # Protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants ids as hex.
    for resource_spans in data["resourceSpans"]:
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _hex(span[key])
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = _hex(link[key])
    return data
