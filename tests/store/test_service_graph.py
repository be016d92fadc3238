"""The service graph on every engine: edges with peers named by their kind, latency
histograms; a Zipkin shared span as one call, on the dependencies API too."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pyarrow as pa

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import (
    Capability,
    DependenciesQuery,
    ServiceGraphEdge,
    ServiceGraphQuery,
    Store,
)

REQUIRES = (Capability.SERVICE_GRAPH,)


MINUTE = red.MINUTE_NS
T0 = 1_699_999_980 * 10**9  # a minute boundary
MS = 1_000_000


def _graph_spans() -> pa.Table:
    trace = "ab" * 16

    def span(
        sid: str,
        parent: str,
        service: str,
        kind: SpanKind,
        at_ms: int,
        dur_ms: int,
        attributes: dict[str, object] | None = None,
        error: bool = False,
    ) -> Span:
        return Span(
            trace_id=trace,
            span_id=sid,
            parent_span_id=parent,
            name=f"{service}-{sid[-2:]}",
            service=service,
            start_ns=T0 + at_ms * MS,
            duration_ns=dur_ms * MS,
            kind=kind,
            status=StatusCode.ERROR if error else StatusCode.UNSET,
            attributes=attributes,  # type: ignore[arg-type]
        )

    return batch_from_spans(
        [
            span("0000000000000001", "", "web", SpanKind.SERVER, 0, 100),
            # A Zipkin shared span: client half in web, server half in api, one id.
            span(
                "0000000000000002",
                "0000000000000001",
                "web",
                SpanKind.CLIENT,
                1,
                80,
                {"peer.service": "api"},
            ),
            span(
                "0000000000000002",
                "0000000000000001",
                "api",
                SpanKind.SERVER,
                2,
                70,
                {"zipkin.shared": True},
                error=True,
            ),
            span("0000000000000003", "0000000000000002", "api", SpanKind.INTERNAL, 3, 10),
            span(
                "0000000000000004",
                "0000000000000002",
                "api",
                SpanKind.CLIENT,
                4,
                5,
                {"db.system": "postgresql"},
            ),
            span(
                "0000000000000005",
                "0000000000000001",
                "web",
                SpanKind.PRODUCER,
                90,
                2,
                {"messaging.system": "kafka"},
            ),
            span(
                "0000000000000006",
                "0000000000000001",
                "web",
                SpanKind.CLIENT,
                92,
                6,
                {"server.address": "maps.example.com"},
            ),
        ]
    )


async def test_service_graph_names_peers_and_counts_a_shared_span_once(store: Store) -> None:
    await store.write(_graph_spans())
    edges = await store.service_graph(ServiceGraphQuery(T0, T0 + MINUTE, (10 * MS, 75 * MS)))
    assert sorted(edges, key=lambda e: (e.parent, e.child)) == [
        ServiceGraphEdge("api", "postgresql", 1, 0, 5 * MS, "database", (1, 0, 0), 5 * MS,
                         (1, 0, 0), 5 * MS, spans=1),
        # The shared span: the server half (70 ms) under the web root (100 ms).
        ServiceGraphEdge("web", "api", 1, 1, 70 * MS, "", (0, 1, 0), 70 * MS, (0, 0, 1), 100 * MS,
                         spans=1),
        ServiceGraphEdge("web", "kafka", 1, 0, 2 * MS, "queue", (1, 0, 0), 2 * MS,
                         (1, 0, 0), 2 * MS, spans=1),
        ServiceGraphEdge("web", "maps.example.com", 1, 0, 6 * MS, "peer", (1, 0, 0), 6 * MS,
                         (1, 0, 0), 6 * MS, spans=1),
    ]  # fmt: skip
    assert not any(edge.estimated for edge in edges)
    links = await store.dependencies(DependenciesQuery(T0 + MINUTE, MINUTE + 1))
    assert [(link.parent, link.child, link.call_count) for link in links] == [("web", "api", 1)]


def _calls(durations_ns: list[int], trace_state: str, first: int) -> list[Span]:
    """One web -> api call per duration, each its own trace carrying ``trace_state``; call
    ``i`` (from ``first``) starts at ``T0 + i`` ms, its api span 1 ns later."""
    spans = []
    for i, duration in enumerate(durations_ns, start=first):
        trace, root, child = f"{i:032x}", f"{2 * i:016x}", f"{2 * i + 1:016x}"
        start = T0 + i * MS
        spans += [
            Span(trace, root, "GET /", "web", start, 200 * MS, kind=SpanKind.SERVER,
                 trace_state=trace_state),
            Span(trace, child, "GET /a", "api", start + 1, duration, parent_span_id=root,
                 kind=SpanKind.SERVER, trace_state=trace_state),
        ]  # fmt: skip
    return spans


async def test_p95_weighs_each_call_by_its_adjusted_count(store: Store) -> None:
    """30 fast calls kept whole and one slow call sampled at 1/4 (standing for four): 4 of
    34 calls are slow, more than 5%, so the p95 is the slow call's (unweighted, 1 of 31 is
    not, and the p95 would be a fast call's). With 79 fast calls, 4 of 83 is under 5%."""
    slow = _calls([100 * MS], "ot=th:c", first=1)
    await store.write(batch_from_spans(slow + _calls([10 * MS] * 30, "", first=2)))
    (edge,) = await store.service_graph(ServiceGraphQuery(T0, T0 + MINUTE))
    assert (edge.parent, edge.child, edge.calls, edge.spans) == ("web", "api", 34, 31)
    assert edge.p95_ns == 100 * MS
    await store.write(batch_from_spans(_calls([10 * MS] * 49, "", first=100)))
    (edge,) = await store.service_graph(ServiceGraphQuery(T0, T0 + MINUTE))
    assert (edge.calls, edge.p95_ns) == (83, 10 * MS)


async def test_p95_is_the_weighted_nearest_rank_of_many_calls(store: Store) -> None:
    """Hundreds of calls with close durations and four sampling rates: the p95 is exactly the
    weighted nearest rank computed here from the calls written, for windows whose p95 falls
    among many durations of about the same size."""
    rng = random.Random(5)
    rates = {"": 1, "ot=th:8": 2, "ot=th:c": 4, "ot=th:e": 8}  # trace state: adjusted count
    calls = [(rng.choice(list(rates)), int(rng.lognormvariate(17, 0.4))) for _ in range(600)]
    spans = [
        span
        for i, (trace_state, duration_ns) in enumerate(calls, start=1)
        for span in _calls([duration_ns], trace_state, first=i)
    ]
    await store.write(batch_from_spans(spans))
    for last in (600, 347, 120):
        weighted = sorted((duration, rates[state]) for state, duration in calls[:last])
        total = sum(w for _, w in weighted)
        running = list(itertools.accumulate(w for _, w in weighted))
        p95 = next(d for (d, _), r in zip(weighted, running, strict=True) if r >= 0.95 * total)
        end = T0 + last * MS + 2  # past the last call's child
        (edge,) = await store.service_graph(ServiceGraphQuery(T0, end))
        assert (edge.calls, edge.spans) == (total, last)
        assert edge.p95_ns == p95


async def test_a_client_span_is_no_peer_call_before_its_callee_could_report(
    store: Store,
) -> None:
    """A client span whose callee's span has not arrived is a peer call only once it ended
    before ``peers_ended_before_ns``: until then the callee may still report (a live map
    would show it as an uninstrumented peer named by its address, for a few seconds)."""

    def client(n: int, at_s: int, dur_s: int) -> Span:
        return Span(f"{n:032x}", f"{n:016x}", "GET", "web", T0 + at_s * 10**9, dur_s * 10**9,
                    kind=SpanKind.CLIENT, attributes={"server.address": "10.0.0.7"})  # fmt: skip

    await store.write(batch_from_spans([client(1, 1, 2), client(2, 10, 1)]))

    async def calls(query: ServiceGraphQuery) -> list[tuple[str, str, float]]:
        return [(e.parent, e.child, e.calls) for e in await store.service_graph(query)]

    everything = ServiceGraphQuery(T0, T0 + MINUTE)
    assert await calls(everything) == [("web", "10.0.0.7", 2)]
    settled = replace(everything, peers_ended_before_ns=T0 + 11 * 10**9)
    assert await calls(settled) == [("web", "10.0.0.7", 1)]
    ending_then = replace(everything, peers_ended_before_ns=T0 + 3 * 10**9)
    assert await calls(ending_then) == []  # a span ending at the bound: not yet
