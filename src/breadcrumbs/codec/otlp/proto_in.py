"""OTLP protobuf (``ExportTraceServiceRequest``) to ``SpanBatch``: the ingest hot path."""

from __future__ import annotations

from itertools import repeat
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from breadcrumbs.codec.base import (
    DROPPED_EVENTS_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.codec.otlp.columns import (
    _CACHE_MAX_ENTRIES,
    DEFAULT_LIMITS,
    _add_links,
    _marker,
    _Spans,
)
from breadcrumbs.codec.otlp.shadow import _ShadowRequest
from breadcrumbs.errors import BadInput


def decode_proto(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """A serialized ``ExportTraceServiceRequest`` as a ``SpanBatch``."""
    request = _ShadowRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadInput(f"malformed OTLP protobuf request: {exc}") from None
    return _decode(request, limits)


def decode_request(
    request: ExportTraceServiceRequest, limits: DecodeLimits = DEFAULT_LIMITS
) -> DecodeResult:
    """For the gRPC receiver. Re-serialising (upb, fast) beats walking the real message's
    attribute wrappers; a receiver that registers a raw-bytes deserializer can call
    ``decode_proto`` directly and skip both."""
    return decode_proto(request.SerializeToString(), limits)


def _decode(request: Any, limits: DecodeLimits) -> DecodeResult:
    total = sum(
        len(scope_spans.spans) for rs in request.resource_spans for scope_spans in rs.scope_spans
    )
    if total > limits.max_spans:
        raise BadInput(f"too many spans in one request: {total} > {limits.max_spans}")
    out = _Spans()
    max_events = limits.max_events
    # The hot loop: one local-bound append per column, no limit checks (``finish`` applies
    # them), events inline, links (rare) in a function.
    trace_ids = out.trace_ids.append
    span_ids = out.span_ids.append
    parent_ids = out.parent_ids.append
    trace_states = out.trace_states.append
    names = out.names.append
    kinds = out.kinds.append
    starts = out.starts.append
    ends = out.ends.append
    statuses: list[bytes] = []
    status = statuses.append
    raw_list = out.attributes.raws
    raws = raw_list.extend
    offsets = out.attributes.offsets.append
    event_times_list = out.event_times
    event_times = event_times_list.append
    event_names = out.event_names.append
    event_raw_list = out.event_attributes.raws
    event_raws = event_raw_list.extend
    event_raw_offsets = out.event_attributes.offsets.append
    event_offsets = out.event_offsets.append
    link_list = out.link_trace_ids
    link_offsets = out.link_offsets.append
    span_list = out.trace_ids
    for r, resource_spans in enumerate(request.resource_spans):
        out.resources.add_row(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            s = len(out.scope_names)
            out.scope_names.append(scope.name)
            out.scope_versions.append(scope.version)
            spans = scope_spans.spans
            out.resource_index.extend(repeat(r, len(spans)))
            out.scope_index.extend(repeat(s, len(spans)))
            for span in spans:
                trace_ids(span.trace_id)
                span_ids(span.span_id)
                parent_ids(span.parent_span_id)
                trace_states(span.trace_state)
                names(span.name)
                kinds(span.kind)
                starts(span.start_time_unix_nano)
                ends(span.end_time_unix_nano)
                status(span.status)
                raws(span.attributes)
                offsets(len(raw_list))
                events = span.events
                if events:
                    if len(events) > max_events:
                        out.attributes.extra.setdefault(len(span_list) - 1, []).append(
                            _marker(DROPPED_EVENTS_KEY, len(events) - max_events)
                        )
                        events = events[:max_events]
                    for event in events:
                        event_times(event.time_unix_nano)
                        event_names(event.name)
                        event_raws(event.attributes)
                        event_raw_offsets(len(event_raw_list))
                event_offsets(len(event_times_list))
                links = span.links
                if links:
                    _proto_links(out, links, limits)
                link_offsets(len(link_list))
    out.status_codes, out.status_messages = _statuses(statuses)
    return out.finish(limits)


def _proto_links(out: _Spans, links: Any, limits: DecodeLimits) -> None:
    _add_links(
        out,
        [(k.trace_id, k.span_id, k.trace_state, k.attributes) for k in links[: limits.max_links]],
        len(links),
    )


_status_codes: dict[bytes, int] = {}
_status_messages: dict[bytes, str] = {}


def _statuses(raws: list[bytes]) -> tuple[list[int], list[str]]:
    """Raw ``Status`` bytes (nearly always one of a handful) as codes and messages."""
    global _status_codes, _status_messages
    codes, messages = _status_codes, _status_messages
    if len(codes) > _CACHE_MAX_ENTRIES:  # replaced, never cleared: other threads may read
        codes, messages = _status_codes, _status_messages = {}, {}
    for raw in set(raws).difference(codes):
        try:
            parsed = trace_pb2.Status.FromString(raw)
        except DecodeError as exc:
            raise BadInput(f"malformed OTLP span status: {exc}") from None
        messages[raw] = parsed.message
        codes[raw] = parsed.code
    return list(map(codes.__getitem__, raws)), list(map(messages.__getitem__, raws))
