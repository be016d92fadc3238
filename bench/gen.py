"""Fast, realistic span generator for benchmarks: ``SpanBatch`` tables with ``SPAN_SCHEMA``.

A seeded world of ~20 services calling each other over HTTP, databases, a cache, a queue and an
uninstrumented payment provider. Trace *shapes* (trees of span templates) are drawn once in
Python; every trace instantiates a shape in DuckDB SQL (ids from md5, per-trace scale of
timings, 2% errors with an exception event, a few instances per service with their own
resource attributes, high-cardinality user and order ids), so a million spans take seconds.

    python bench/gen.py --spans 1000000          # prints the generation rate
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from breadcrumbs.model import SPAN_SCHEMA, SpanBatch, SpanKind, encode_attributes

LAYERS: list[list[str]] = [
    ["frontend", "mobile-bff"],
    ["cart", "catalog", "checkout", "user", "recommendation", "search", "ad-service"],
    ["payment", "inventory", "shipping", "currency", "auth", "email", "pricing", "review"],
]
STORES = [("postgres", "postgresql"), ("redis", "redis"), ("mysql", "mysql")]
UNINSTRUMENTED = "stripe-api"
ROUTES = ["/api/{id}", "/api/list", "/api/items/{id}", "/api/v2/search", "/api/health"]
TABLES = ["orders", "users", "products", "carts", "shipments", "prices"]


@dataclass
class Template:
    idx: int
    parent: int
    service: str
    name: str
    kind: int
    start: float  # fraction of the trace's duration
    dur: float
    attrs: dict[str, Any] = field(default_factory=dict)


def _shape(rng: random.Random, root_service: str) -> list[Template]:
    spans: list[Template] = []

    def add(
        parent: int,
        service: str,
        name: str,
        kind: int,
        start: float,
        dur: float,
        attrs: dict[str, Any],
    ) -> int:
        spans.append(Template(len(spans), parent, service, name, kind, start, dur, attrs))
        return len(spans) - 1

    def server(parent: int, service: str, layer: int, start: float, dur: float) -> None:
        route = rng.choice(ROUTES).replace("/api", f"/{service}")
        method = rng.choice(["GET", "GET", "POST"])
        me = add(
            parent,
            service,
            f"{method} {route}",
            SpanKind.SERVER,
            start,
            dur,
            {
                "http.request.method": method,
                "http.route": route,
                "url.scheme": "http",
                "network.protocol.version": "1.1",
            },
        )
        calls = rng.randint(1, 4) if layer < len(LAYERS) else 0
        slot = dur / max(calls, 1)
        for c in range(calls):
            s = start + c * slot + slot * 0.05
            d = slot * rng.uniform(0.4, 0.9)
            roll = rng.random()
            if roll < 0.3:
                store, system = rng.choice(STORES)
                table = rng.choice(TABLES)
                add(
                    me,
                    service,
                    f"SELECT {table}",
                    SpanKind.CLIENT,
                    s,
                    d,
                    {
                        "db.system": system,
                        "db.statement": f"SELECT * FROM {table} WHERE id = ?",
                        "peer.service": store,
                        "server.address": f"{store}.svc",
                        "server.port": 5432,
                    },
                )
            elif roll < 0.4:
                add(me, service, "process", SpanKind.INTERNAL, s, d, {"thread.name": "worker-1"})
            elif roll < 0.45 and service in LAYERS[1]:
                add(
                    me,
                    service,
                    "POST /v1/charges",
                    SpanKind.CLIENT,
                    s,
                    d,
                    {
                        "http.request.method": "POST",
                        "peer.service": UNINSTRUMENTED,
                        "server.address": "api.stripe.example",
                        "url.full": "https://api.stripe.example/v1/charges",
                    },
                )
            elif layer < len(LAYERS):
                callee = rng.choice(LAYERS[layer])
                client = add(
                    me,
                    service,
                    f"{method} {callee}",
                    SpanKind.CLIENT,
                    s,
                    d,
                    {
                        "http.request.method": method,
                        "peer.service": callee,
                        "server.address": f"{callee}.svc",
                        "server.port": 8080,
                    },
                )
                server(client, callee, layer + 1, s + d * 0.05, d * 0.9)

    server(-1, root_service, 1, 0.0, 1.0)
    return spans


def _resource(service: str, instance: int) -> dict[str, Any]:
    return {
        "service.name": service,
        "service.namespace": "shop",
        "service.version": f"1.{len(service) % 7}.{instance}",
        "service.instance.id": f"{service}-{instance:04d}-7f9c",
        "host.name": f"node-{(sum(map(ord, service)) % 9) + instance}",
        "process.pid": 1000 + 97 * instance + len(service),
        "process.runtime.name": "cpython",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": "1.27.0",
        "deployment.environment": "production",
        "k8s.pod.name": f"{service}-5d8f7c-{instance}x",
    }


def _tables(seed: int, shapes: int, instances: int) -> tuple[pa.Table, pa.Table, float]:
    rng = random.Random(seed)
    rows: dict[str, list[Any]] = {
        k: []
        for k in [
            "shape",
            "idx",
            "parent",
            "service",
            "name",
            "kind",
            "start",
            "dur",
            "attrs",
            "types",
            "base_ms",
        ]
    }
    total = 0
    for shape in range(shapes):
        base_ms = rng.choice([5, 20, 50, 120, 400])
        for t in _shape(rng, rng.choice(LAYERS[0])):
            entries, codes = encode_attributes(t.attrs)
            for key, value in (
                ("shape", shape),
                ("idx", t.idx),
                ("parent", t.parent),
                ("service", t.service),
                ("name", t.name),
                ("kind", t.kind),
                ("start", t.start),
                ("dur", t.dur),
                ("attrs", entries),
                ("types", codes),
                ("base_ms", base_ms),
            ):
                rows[key].append(value)
            total += 1
    templates = pa.table(
        rows,
        schema=pa.schema(
            [
                ("shape", pa.int32()),
                ("idx", pa.int32()),
                ("parent", pa.int32()),
                ("service", pa.string()),
                ("name", pa.string()),
                ("kind", pa.int8()),
                ("start", pa.float64()),
                ("dur", pa.float64()),
                ("attrs", pa.map_(pa.string(), pa.string())),
                ("types", pa.string()),
                ("base_ms", pa.int32()),
            ]
        ),
    )
    res: dict[str, list[Any]] = {"service": [], "instance": [], "rattrs": [], "rtypes": []}
    for service in sorted({s for layer in LAYERS for s in layer}):
        for instance in range(instances):
            entries, codes = encode_attributes(_resource(service, instance))
            res["service"].append(service)
            res["instance"].append(instance)
            res["rattrs"].append(entries)
            res["rtypes"].append(codes)
    resources = pa.table(
        res,
        schema=pa.schema(
            [
                ("service", pa.string()),
                ("instance", pa.int32()),
                ("rattrs", pa.map_(pa.string(), pa.string())),
                ("rtypes", pa.string()),
            ]
        ),
    )
    return templates, resources, total / shapes


_SQL = """
WITH t AS (
    SELECT i AS trace_no, hash(i, $seed) AS h FROM range($first, $last) AS r(i)
), tt AS (
    SELECT trace_no, h, (h % $shapes)::INTEGER AS shape,
           $start + (trace_no * $gap)::BIGINT AS t0,
           0.3 + ((h >> 16) % 1000) / 400.0 AS scale,
           md5(trace_no::VARCHAR || '-' || $seed::VARCHAR) AS trace_id
    FROM t
), s AS (
    SELECT tt.*, p.idx, p.parent, p.service, p.name, p.kind, p.attrs, p.types,
           (p.base_ms * 1e6 * scale) AS total_ns, p.start, p.dur,
           hash(trace_no, p.idx, $seed) % 1000 < 20 AS err,
           ((h >> (8 + p.idx % 8)) % $instances)::INTEGER AS instance
    FROM tt JOIN templates AS p USING (shape)
)
SELECT
    (t0 + start * total_ns)::BIGINT AS Timestamp,
    trace_id AS TraceId,
    substr(md5(trace_id || '/' || idx::VARCHAR), 1, 16) AS SpanId,
    CASE WHEN parent < 0 THEN ''
         ELSE substr(md5(trace_id || '/' || parent::VARCHAR), 1, 16) END AS ParentSpanId,
    '' AS TraceState,
    name AS SpanName,
    kind AS SpanKind,
    s.service AS ServiceName,
    r.rattrs AS ResourceAttributes,
    r.rtypes AS ResourceAttributeTypes,
    'opentelemetry.instrumentation.' || CASE kind WHEN 3 THEN 'requests' ELSE 'flask' END
        AS ScopeName,
    '0.48b0' AS ScopeVersion,
    CASE
        WHEN kind = 2 AND parent < 0 THEN map_concat(attrs, MAP {
            'http.response.status_code': CASE WHEN err THEN '500' ELSE '200' END,
            'user.id': 'u' || (h % 50000)::VARCHAR,
            'session.id': substr(md5(h::VARCHAR), 1, 20)})
        WHEN kind = 2 THEN map_concat(attrs, MAP {
            'http.response.status_code': CASE WHEN err THEN '500' ELSE '200' END,
            'order.id': (h % 1000003)::VARCHAR})
        ELSE attrs END AS SpanAttributes,
    CASE WHEN kind = 2 AND parent < 0 THEN types || 'iss'
         WHEN kind = 2 THEN types || 'is' ELSE types END AS SpanAttributeTypes,
    greatest((dur * total_ns)::BIGINT, 1000) AS Duration,
    CASE WHEN err THEN 2 ELSE 0 END::TINYINT AS StatusCode,
    CASE WHEN err THEN 'internal error' ELSE '' END AS StatusMessage,
    CASE WHEN err THEN [{
        'Timestamp': (t0 + (start + dur * 0.9) * total_ns)::BIGINT,
        'Name': 'exception',
        'Attributes': MAP {'exception.type': 'ValueError',
                           'exception.message': 'bad value ' || (h % 97)::VARCHAR,
                           'exception.escaped': 'false'},
        'AttributeTypes': 'ssb'}]
        ELSE [] END AS Events,
    [] AS Links
FROM s JOIN resources AS r ON r.service = s.service AND r.instance = s.instance
"""


class Generator:
    """Yields batches of about ``batch_size`` spans, in time order, ``spans_per_second`` apart."""

    def __init__(
        self,
        *,
        seed: int = 1,
        start_ns: int = 1_767_225_600 * 10**9,  # 2026-01-01T00:00:00Z
        spans_per_second: float = 100_000,
        shapes: int = 200,
        instances: int = 3,
    ) -> None:
        self.seed = seed
        self.start_ns = start_ns
        self._conn = duckdb.connect()
        templates, resources, self.spans_per_trace = _tables(seed, shapes, instances)
        self._conn.register("templates", templates)
        self._conn.register("resources", resources)
        self._shapes = shapes
        self._instances = instances
        self.trace_gap_ns = self.spans_per_trace / spans_per_second * 1e9
        self._next_trace = 0

    def batch(self, traces: int) -> SpanBatch:
        first = self._next_trace
        self._next_trace += traces
        params = {
            "seed": self.seed,
            "first": first,
            "last": first + traces,
            "shapes": self._shapes,
            "start": self.start_ns,
            "gap": self.trace_gap_ns,
            "instances": self._instances,
        }
        table: pa.Table = self._conn.sql(_SQL, params=params).to_arrow_table()
        return table.cast(SPAN_SCHEMA)

    def batches(self, total_spans: int, batch_size: int = 100_000) -> Iterator[SpanBatch]:
        produced = 0
        traces = max(1, round(batch_size / self.spans_per_trace))
        while produced < total_spans:
            batch = self.batch(traces)
            produced += batch.num_rows
            yield batch

    def end_ns(self) -> int:
        """Start time of the next trace the generator would make."""
        return self.start_ns + int(self._next_trace * self.trace_gap_ns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args()
    gen = Generator()
    began = time.perf_counter()
    n = sum(b.num_rows for b in gen.batches(args.spans, args.batch))
    took = time.perf_counter() - began
    print(
        f"{n} spans in {took:.2f} s ({n / took:,.0f} spans/s), "
        f"{gen.spans_per_trace:.1f} spans/trace"
    )


if __name__ == "__main__":
    main()
