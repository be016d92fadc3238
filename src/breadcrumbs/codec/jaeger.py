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

import pyarrow as pa
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


# By the stored integers: a lookup instead of an enum construction per span.
_KIND_BY_VALUE: Final = {int(kind): label for kind, label in _KIND_TAG.items()}
_ERROR: Final = int(StatusCode.ERROR)
_OK: Final = int(StatusCode.OK)


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
    tags: list[dict[str, Any]] = []
    if scope_name:
        tags.append(_string_tag("otel.scope.name", scope_name))
    if scope_version:
        tags.append(_string_tag("otel.scope.version", scope_version))
    if entries:
        tags.extend(typed_tags(entries, codes))
    extra: list[dict[str, Any]] = []
    kind_label = _KIND_BY_VALUE.get(kind)
    if kind_label:
        extra.append(_string_tag("span.kind", kind_label))
    if status == _ERROR:
        extra.append(_string_tag("otel.status_code", "ERROR"))
        extra.append({"key": "error", "type": "bool", "value": True})
    elif status == _OK:
        extra.append(_string_tag("otel.status_code", "OK"))
    if status_message:
        extra.append(_string_tag("otel.status_description", status_message))
    if trace_state:
        extra.append(_string_tag("w3c.tracestate", trace_state))
    if entries:
        present = {key for key, _ in entries}
        tags.extend(tag for tag in extra if tag["key"] not in present)
    else:
        tags.extend(extra)
    return tags


def _logs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    logs = []
    for event in events:
        fields = typed_tags(event["Attributes"], event["AttributeTypes"])
        if event["Name"] and not any(field["key"] == "event" for field in fields):
            fields.insert(0, _string_tag("event", event["Name"]))
        logs.append({"timestamp": event["Timestamp"] // 1000, "fields": fields})
    return logs


_Resource = tuple[str, tuple[tuple[str, str], ...], str]
_Process = tuple[tuple[str, tuple[tuple[str, str, str], ...]], list[dict[str, Any]]]


def _process(raw_key: _Resource) -> _Process:
    """A resource's process key (service and sorted typed tags) and tags."""
    service, entries, codes = raw_key
    tags = [tag for tag in typed_tags(entries, codes) if tag["key"] != "service.name"]
    key = (service, tuple(sorted((t["key"], t["type"], str(t["value"])) for t in tags)))
    return key, tags


def to_jaeger_trace(
    spans: SpanBatch, warnings: Sequence[Sequence[str]] | None = None
) -> dict[str, Any]:
    """One trace (all rows share a TraceId) as Jaeger's ``ui.Trace`` JSON object.

    ``warnings[i]`` are row ``i``'s adjuster warnings (rendered as the span's ``warnings``).
    """
    return to_jaeger_traces([(spans, warnings)])[0]


def to_jaeger_traces(
    traces: Sequence[tuple[SpanBatch, Sequence[Sequence[str]] | None]],
) -> list[dict[str, Any]]:
    """Several traces as ``to_jaeger_trace`` renders each: the columns come out of Arrow once
    for all of them (a search's 20 traces made 20 calls per column), and each distinct
    resource's process tags are built once."""
    if not traces:
        return []
    whole = pa.concat_tables([spans for spans, _ in traces]) if len(traces) > 1 else traces[0][0]
    # Whole columns out of Arrow once; the per-span loop below only assembles JSON objects.
    col = {name: whole[name].to_pylist() for name in whole.column_names}
    seen_resources: dict[_Resource, _Process] = {}
    out: list[dict[str, Any]] = []
    begin = 0
    for spans, warnings in traces:
        end = begin + spans.num_rows
        out.append(_trace(col, begin, end, warnings, seen_resources))
        begin = end
    return out


def _trace(
    col: dict[str, list[Any]],
    begin: int,
    end: int,
    warnings: Sequence[Sequence[str]] | None,
    seen_resources: dict[_Resource, _Process],
) -> dict[str, Any]:
    """Rows ``begin:end`` of ``col`` (one trace) as a ``ui.Trace`` object."""
    processes: dict[tuple[str, tuple[tuple[str, str, str], ...]], str] = {}
    process_objects: dict[str, dict[str, Any]] = {}
    # Process ids of this trace by resource: spans of one process share their resource.
    ids_here: dict[_Resource, str] = {}
    out_spans: list[dict[str, Any]] = []
    trace_ids, span_ids, parent_ids = col["TraceId"], col["SpanId"], col["ParentSpanId"]
    services, resources, resource_types = (
        col["ServiceName"],
        col["ResourceAttributes"],
        col["ResourceAttributeTypes"],
    )
    links, names, starts, durations = (
        col["Links"],
        col["SpanName"],
        col["Timestamp"],
        col["Duration"],
    )
    attributes, attribute_types = col["SpanAttributes"], col["SpanAttributeTypes"]
    kinds, statuses, messages = col["SpanKind"], col["StatusCode"], col["StatusMessage"]
    scope_names, scope_versions, states = col["ScopeName"], col["ScopeVersion"], col["TraceState"]
    events = col["Events"]
    trace_id = trace_ids[begin] if end > begin else ""
    for i in range(begin, end):
        raw_key = (services[i], tuple(resources[i]), resource_types[i])
        process_id = ids_here.get(raw_key)
        if process_id is None:
            built = seen_resources.get(raw_key)
            if built is None:
                built = seen_resources[raw_key] = _process(raw_key)
            process_key, process_tags = built
            process_id = processes.get(process_key)
            if process_id is None:
                process_id = f"p{len(processes) + 1}"
                processes[process_key] = process_id
                process_objects[process_id] = {
                    "serviceName": raw_key[0],
                    "tags": list(process_tags),
                }
            ids_here[raw_key] = process_id

        references = []
        parent = parent_ids[i]
        if parent:
            references.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent})
        for link in links[i]:
            references.append(
                {"refType": "FOLLOWS_FROM", "traceID": link["TraceId"], "spanID": link["SpanId"]}
            )
        row_warnings = warnings[i - begin] if warnings is not None else None
        span_events = events[i]
        out_spans.append(
            {
                "traceID": trace_ids[i],
                "spanID": span_ids[i],
                "flags": SAMPLED_FLAG,
                "operationName": names[i],
                "references": references,
                "startTime": starts[i] // 1000,
                "duration": durations[i] // 1000,
                "tags": _span_tags(
                    attributes[i],
                    attribute_types[i],
                    kinds[i],
                    statuses[i],
                    messages[i],
                    scope_names[i],
                    scope_versions[i],
                    states[i],
                ),
                "logs": _logs(span_events) if span_events else [],
                "processID": process_id,
                "warnings": list(row_warnings) if row_warnings else None,
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
