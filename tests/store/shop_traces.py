"""A small synthetic shop for the analysis reads: orders of 1-9 items; orders of 5+ items
run a slow cargo SELECT in delivery-scheduling; every fourth order fails in payment."""

from __future__ import annotations

import random
from typing import Final

from breadcrumbs.model import Span, SpanBatch, SpanKind, StatusCode, batch_from_spans

T0: Final = 1_700_000_000_000_000_000
MS: Final = 1_000_000
CARGO: Final = "SELECT slot_id FROM slots WHERE vehicle = 'cargo-bike'"
BIKE: Final = "SELECT slot_id FROM slots WHERE zone = ?"


def trace_id(i: int) -> str:
    return f"{i + 1:032x}"


def order_trace(
    i: int, items: int, *, failed: bool = False, start_ns: int | None = None
) -> list[Span]:
    """One order: gateway -> delivery-scheduling -> SELECT, and payment."""
    start = T0 + i * 100 * MS if start_ns is None else start_ns
    large = items >= 5
    select_ns = (300 if large else 2) * MS
    trace = trace_id(i)
    root, schedule, select, pay = (f"{i + 1:012x}{n:04x}" for n in range(1, 5))
    return [
        Span(
            trace, root, "POST /orders", "gateway", start, select_ns + 40 * MS,
            kind=SpanKind.SERVER,
            status=StatusCode.ERROR if failed else StatusCode.UNSET,
            attributes={"order.item_count": items, "order.id": f"ord-{i}"},
            resource={"host.name": f"gw-{i % 2}"},
        ),
        Span(
            trace, schedule, "POST /schedule", "delivery-scheduling", start + MS,
            select_ns + 10 * MS, parent_span_id=root, kind=SpanKind.SERVER,
            attributes={"order.item_count": items},
        ),
        Span(
            trace, select, "SELECT", "delivery-scheduling", start + 2 * MS, select_ns,
            parent_span_id=schedule, kind=SpanKind.CLIENT,
            attributes={"db.statement": CARGO if large else BIKE, "db.system": "sqlite"},
        ),
        Span(
            trace, pay, "POST /charge", "payment", start + select_ns + 20 * MS, 5 * MS,
            parent_span_id=root, kind=SpanKind.SERVER,
            status=StatusCode.ERROR if failed else StatusCode.UNSET,
        ),
    ]  # fmt: skip


def order_items(count: int, seed: int = 7) -> list[int]:
    """Items of each order of ``shop_batch``."""
    rng = random.Random(seed)
    return [rng.randint(1, 9) for _ in range(count)]


def shop_batch(count: int = 200, seed: int = 7) -> SpanBatch:
    spans: list[Span] = []
    for i, items in enumerate(order_items(count, seed)):
        spans.extend(order_trace(i, items, failed=i % 4 == 0))
    return batch_from_spans(spans)
