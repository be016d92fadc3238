"""The side-by-side benchmarks' requests (``bench/peer_requests.py``): every send carries its own
traces, and the Zipkin JSON of a request is the same spans as its OTLP protobuf (both decoded
by breadcrumbs' own decoders). Pure Python: no Jaeger, Zipkin, Go or Java needed."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from breadcrumbs.codec import zipkin
from breadcrumbs.codec.otlp import DEFAULT_LIMITS, decode_proto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from ingest import SPANS_PER_REQUEST, make_request
from peer_requests import UniqueRequests

NOW_NS = 1_764_780_000_000_000_000


@pytest.fixture(scope="module")
def pool() -> list[bytes]:
    rng = random.Random(3)
    return [make_request(rng, NOW_NS) for _ in range(3)]


def _otlp_trace_ids(body: bytes) -> Counter[str]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(body)
    return Counter(
        span.trace_id.hex()
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    )


def test_every_send_carries_its_own_traces(pool: list[bytes]) -> None:
    stream = UniqueRequests(pool)
    seen: set[str] = set()
    for n in (1, 2, 3, 4, 255, 256, 2**32 - 1):
        ids = _otlp_trace_ids(stream.send(n))
        assert ids == Counter(stream.trace_spans(n))
        assert sum(ids.values()) == SPANS_PER_REQUEST
        assert all(trace_id.startswith(n.to_bytes(4, "big").hex()) for trace_id in ids)
        assert seen.isdisjoint(ids)
        seen.update(ids)


def test_a_send_differs_from_its_pool_request_only_in_trace_ids(pool: list[bytes]) -> None:
    stream = UniqueRequests(pool)
    original = trace_service_pb2.ExportTraceServiceRequest()
    original.ParseFromString(pool[1])
    sent = trace_service_pb2.ExportTraceServiceRequest()
    sent.ParseFromString(stream.send(4))  # pool request 4 % 3 = 1
    for resource_spans in sent.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                assert span.trace_id[:4] == (4).to_bytes(4, "big")
                span.trace_id = b"\0" * 4 + span.trace_id[4:]
    for resource_spans in original.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.trace_id = b"\0" * 4 + span.trace_id[4:]
    assert sent == original


_COMPARED = ["TraceId", "SpanId", "ParentSpanId", "ServiceName", "SpanName", "SpanKind"]


def _by_span(batch: pa.Table) -> list[tuple[object, ...]]:
    columns = [batch.column(name).to_pylist() for name in _COMPARED]
    # Zipkin carries microseconds: compare times at that precision.
    columns.append([ns // 1000 for ns in batch.column("Timestamp").to_pylist()])
    columns.append([ns // 1000 for ns in batch.column("Duration").to_pylist()])
    columns.append(batch.column("StatusCode").to_pylist())
    return sorted(zip(*columns, strict=True))


def test_zipkin_json_is_the_same_spans(pool: list[bytes]) -> None:
    otlp, zipkin_json = UniqueRequests(pool), UniqueRequests(pool, "zipkin")
    for n in (7, 8, 9):
        body = zipkin_json.send(n)
        spans = orjson.loads(body)
        assert Counter(span["traceId"] for span in spans) == Counter(zipkin_json.trace_spans(n))
        from_zipkin = zipkin.decode_json(body)
        from_otlp = decode_proto(otlp.send(n), DEFAULT_LIMITS)
        assert from_zipkin.rejected == from_otlp.rejected == 0
        assert _by_span(pa.table(from_zipkin.batch)) == _by_span(pa.table(from_otlp.batch))


def test_zipkin_json_keeps_attributes_as_tags(pool: list[bytes]) -> None:
    spans = orjson.loads(UniqueRequests(pool, "zipkin").send(1))
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(pool[1])
    first = request.resource_spans[0]
    span = first.scope_spans[0].spans[0]
    (converted,) = [s for s in spans if s["id"] == span.span_id.hex()]
    assert converted["localEndpoint"] == {
        "serviceName": first.resource.attributes[0].value.string_value
    }
    for kv in [*first.resource.attributes[1:], *span.attributes]:
        assert kv.key in converted["tags"]
