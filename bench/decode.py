"""OTLP decoder throughput: ``python bench/decode.py [--spans 1000] [--seconds 3]``.

Builds realistic ExportTraceServiceRequests (a few resources and scopes, 8-10 attributes of
mixed types per span, some events and errors) and prints spans per CPU second (process time,
so other load on a shared machine skews it less) for protobuf parsing alone (the floor: upb
into messages, no columns), the native decoder (Rust, when built) and the Python
``decode_proto``, each as a ratio to the floor, then ``decode_json`` and ``encode_proto``.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import time
from collections.abc import Callable

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from breadcrumbs.codec.otlp import (
    NATIVE_AVAILABLE,
    decode_json,
    decode_proto,
    decode_proto_native,
    encode_proto,
)

SERVICES = ["frontend", "checkout", "cart", "payment", "smoothie-blender"]
ROUTES = ["/", "/api/cart", "/api/checkout", "/api/products/{id}", "/healthz"]


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_request(spans: int, rng: random.Random) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    now = time.time_ns()
    per_resource = spans // len(SERVICES) + 1
    made = 0
    for service in SERVICES:
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            [
                _kv("service.name", service),
                _kv("service.version", "1.4.2"),
                _kv("host.name", f"{service}-7f9c-{rng.randrange(100)}"),
                _kv("telemetry.sdk.language", "python"),
                _kv("process.pid", rng.randrange(1, 65536)),
            ]
        )
        for scope_name in ("opentelemetry.instrumentation.flask", "app"):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = scope_name
            scope_spans.scope.version = "0.48b0"
            for _ in range(per_resource // 2):
                if made == spans:
                    break
                made += 1
                start = now - rng.randrange(10**9, 60 * 10**9)
                route = rng.choice(ROUTES)
                status = rng.choice([200, 200, 200, 200, 404, 500])
                span = Span(
                    trace_id=rng.randbytes(16),
                    span_id=rng.randbytes(8),
                    parent_span_id=rng.randbytes(8) if rng.random() < 0.8 else b"",
                    name=f"GET {route}",
                    kind=rng.choice([1, 2, 3]),  # type: ignore[arg-type]
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + rng.randrange(10**5, 10**9),
                )
                span.attributes.extend(
                    [
                        _kv("http.request.method", "GET"),
                        _kv("http.route", route),
                        _kv("url.full", f"http://{service}:8080{route}?q={rng.randrange(10**6)}"),
                        _kv("http.response.status_code", status),
                        _kv("server.port", 8080),
                        _kv("network.protocol.version", "1.1"),
                        _kv("user_agent.original", "python-requests/2.32"),
                        _kv("app.cache_hit", rng.random() < 0.5),
                        _kv("app.price", round(rng.uniform(1, 20), 2)),
                    ][: rng.randrange(8, 10) + 1]
                )
                if status == 500:
                    span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
                    event = span.events.add(time_unix_nano=start + 1000, name="exception")
                    event.attributes.extend(
                        [_kv("exception.type", "ValueError"), _kv("exception.message", "bad")]
                    )
                scope_spans.spans.append(span)
    return request


def _rate(label: str, spans: int, seconds: float, work: Callable[[], object]) -> float:
    """spans/s from the median CPU time of one request (steadier than the mean when other
    processes share the cores)."""
    times: list[float] = []
    started = time.process_time()
    while len(times) < 5 or time.process_time() - started < seconds:
        before = time.process_time()
        work()
        times.append(time.process_time() - before)
    median = statistics.median(times)
    rate = spans / median
    print(f"{label:<32} {rate:>12,.0f} spans/s  ({median * 1e3:.2f} ms/request median)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(42)
    requests = [make_request(args.spans, rng) for _ in range(8)]
    bodies = [r.SerializeToString() for r in requests]
    jsons = [_otlp_json(r) for r in requests]
    count = sum(len(s.spans) for rs in requests[0].resource_spans for s in rs.scope_spans)
    n = 0

    def parse() -> None:
        nonlocal n
        ExportTraceServiceRequest().ParseFromString(bodies[n % 8])
        n += 1

    def proto() -> None:
        nonlocal n
        decode_proto(bodies[n % 8])
        n += 1

    def json() -> None:
        nonlocal n
        decode_json(jsons[n % 8])
        n += 1

    print(f"{count} spans per request, {len(bodies[0]):,} bytes protobuf, {len(jsons[0]):,} JSON")

    def native() -> None:
        nonlocal n
        decode_proto_native(bodies[n % 8])
        n += 1

    floor = _rate("protobuf ParseFromString (floor)", count, args.seconds, parse)
    if NATIVE_AVAILABLE:
        fast = _rate("native decode_proto (Rust)", count, args.seconds, native)
        print(f"{'native / floor':<32} {fast / floor:>12.3f}")
    else:
        print("native decode_proto: not built (no Rust toolchain at install)")
    decoded = _rate("python decode_proto", count, args.seconds, proto)
    print(f"{'python / floor':<32} {decoded / floor:>12.3f}")
    if NATIVE_AVAILABLE:
        print(f"{'native / python':<32} {fast / decoded:>12.3f}")
    _rate("decode_json", count, args.seconds / 2, json)
    batch = decode_proto(bodies[0]).batch
    _rate("encode_proto", count, args.seconds / 2, lambda: encode_proto(batch))


def _otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """protobuf's JSON mapping, with hex ids as OTLP/JSON has them."""
    document = json_format.MessageToDict(request)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(document)


if __name__ == "__main__":
    main()
