"""Calls between services over tens of minutes, and the dependencies they make by definition.

Long enough that an engine keeping call counts per unit of time (DuckDB: per minute, once
settled) answers from them, with calls whose two spans start far apart and parents written
after their children.

Every trace ``i`` starts at ``T0 + i * GAP_NS``:

- frontend ``GET /`` (server) -> frontend ``GET cart`` (client, peer.service=cart)
  -> cart ``GET /items`` (server; error when ``i % 7 == 0``)
  -> cart ``SELECT`` (client, peer.service=postgres, never answered; error when ``i % 5 == 0``)
- when ``i % 4 == 0``: email ``send`` (consumer), child of the cart server span, starting
  ``CONSUMER_DELAY_NS`` later (within the horizon: a call).
- when ``i % 6 == 0``: audit ``record`` (consumer), child of the cart server span, starting
  ``BEYOND_HORIZON_NS`` later (beyond ``DEPENDENCY_HORIZON_NS``: by definition not a call).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from breadcrumbs.model import Span, SpanKind, StatusCode
from breadcrumbs.store.base import DEPENDENCY_HORIZON_NS, DependencyLink

T0: Final = 1_760_000_000_000_000_000
MS: Final = 1_000_000
GAP_NS: Final = 20_000 * MS
CONSUMER_DELAY_NS: Final = 50_000 * MS
BEYOND_HORIZON_NS: Final = DEPENDENCY_HORIZON_NS + 10_000 * MS


def trace(i: int) -> list[Span]:
    t = T0 + i * GAP_NS
    trace_id = f"{i + 1:032x}"

    def sid(n: int) -> str:
        return f"{i + 1:08x}{n:08x}"

    spans = [
        Span(trace_id, sid(1), "GET /", "frontend", t, 50 * MS, kind=SpanKind.SERVER),
        Span(trace_id, sid(2), "GET cart", "frontend", t + MS, 40 * MS, parent_span_id=sid(1),
             kind=SpanKind.CLIENT, attributes={"peer.service": "cart"}),
        Span(trace_id, sid(3), "GET /items", "cart", t + 2 * MS, 30 * MS, parent_span_id=sid(2),
             kind=SpanKind.SERVER,
             status=StatusCode.ERROR if i % 7 == 0 else StatusCode.UNSET),
        Span(trace_id, sid(4), "SELECT", "cart", t + 3 * MS, 10 * MS, parent_span_id=sid(3),
             kind=SpanKind.CLIENT, attributes={"peer.service": "postgres"},
             status=StatusCode.ERROR if i % 5 == 0 else StatusCode.UNSET),
    ]  # fmt: skip
    if i % 4 == 0:
        consumer_start = t + 2 * MS + CONSUMER_DELAY_NS
        spans.append(
            Span(
                trace_id,
                sid(5),
                "send",
                "email",
                consumer_start,
                5 * MS,
                parent_span_id=sid(3),
                kind=SpanKind.CONSUMER,
            )
        )
    if i % 6 == 0:
        spans.append(
            Span(
                trace_id,
                sid(6),
                "record",
                "audit",
                t + 2 * MS + BEYOND_HORIZON_NS,
                5 * MS,
                parent_span_id=sid(3),
                kind=SpanKind.CONSUMER,
            )
        )
    return spans


def links(
    spans: Sequence[Span], end_ns: int, lookback_ns: int, horizon_ns: int = DEPENDENCY_HORIZON_NS
) -> list[DependencyLink]:
    """The dependencies of spans starting in (end - lookback, end], by definition: a span whose
    parent is in another service, both in the window and at most ``horizon_ns`` apart; a
    client/producer span in the window naming a peer.service (not its own) with no child span
    within ``horizon_ns`` of it."""
    inside = [s for s in spans if end_ns - lookback_ns < s.start_ns <= end_ns]
    by_id = {(s.trace_id, s.span_id): s for s in inside}
    calls: Counter[tuple[str, str]] = Counter()
    errors: Counter[tuple[str, str]] = Counter()

    def count(parent: str, child: str, error: bool) -> None:
        calls[parent, child] += 1
        errors[parent, child] += error

    for s in inside:
        p = by_id.get((s.trace_id, s.parent_span_id))
        if p and p.service != s.service and abs(p.start_ns - s.start_ns) <= horizon_ns:
            count(p.service, s.service, s.status == StatusCode.ERROR)
        peer = (s.attributes or {}).get("peer.service")
        if s.kind in (SpanKind.CLIENT, SpanKind.PRODUCER) and peer and peer != s.service:
            answered = any(
                k.trace_id == s.trace_id
                and k.parent_span_id == s.span_id
                and abs(k.start_ns - s.start_ns) <= horizon_ns
                for k in spans
            )
            if not answered:
                count(s.service, str(peer), s.status == StatusCode.ERROR)
    return [DependencyLink(p, c, n, errors[p, c]) for (p, c), n in sorted(calls.items())]
