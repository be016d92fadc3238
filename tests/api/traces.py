"""The traces every query API test reads: one shop request across two services (typed tags,
an exception event, a link, a child that starts before its parent on another host, a span
whose parent never arrived), a second frontend trace and a 64-bit Zipkin-style trace."""

from __future__ import annotations

import time
from dataclasses import dataclass

from breadcrumbs.model import (
    AttributeValue,
    Event,
    Link,
    Span,
    SpanBatch,
    SpanKind,
    StatusCode,
    batch_from_spans,
)

MS = 1_000_000

SHOP_TRACE = "463ac35c9f6413ad48485a3953bb6124"
HOME_TRACE = "5b8efff798038103d269b633813fc60c"
LEGACY_TRACE = "0000000000000000a1b2c3d4e5f60718"
LINKED_TRACE = "11112222333344445555666677778888"
UNKNOWN_TRACE = "ffffffffffffffffffffffffffffffff"

ROOT, DB_CALL, CART, ORPHAN = (
    "a000000000000001",
    "a000000000000002",
    "a000000000000003",
    "a000000000000004",
)
MISSING_PARENT = "deadbeefdeadbeef"
HOME_ROOT, LEGACY_ROOT = "b000000000000001", "c000000000000001"
LINKED_SPAN = "e000000000000001"

FRONTEND_RESOURCE: dict[str, AttributeValue] = {"host.name": "web-1", "process.pid": 42}
CART_RESOURCE: dict[str, AttributeValue] = {"host.name": "cart-1"}


@dataclass(frozen=True)
class Seed:
    t0_ns: int  # the shop root's start
    batch: SpanBatch


def seed() -> Seed:
    # Ten minutes ago: inside every API's default lookback.
    t0 = (time.time_ns() - 10 * 60 * 1_000_000_000) // 1000 * 1000
    spans = [
        Span(
            trace_id=SHOP_TRACE,
            span_id=ROOT,
            name="GET /cart",
            service="frontend",
            start_ns=t0,
            duration_ns=100 * MS,
            kind=SpanKind.SERVER,
            status=StatusCode.OK,
            attributes={
                "http.request.method": "GET",
                "http.response.status_code": 200,
                "sample.ratio": 0.25,
                "cache.hit": True,
                "raw.bytes": b"\x01\x02",
                "tags.list": ["a", "b"],
            },
            resource=FRONTEND_RESOURCE,
            scope_name="shop.http",
            scope_version="1.2.3",
        ),
        Span(
            trace_id=SHOP_TRACE,
            span_id=DB_CALL,
            parent_span_id=ROOT,
            name="SELECT cart",
            service="frontend",
            start_ns=t0 + 10 * MS,
            duration_ns=10 * MS,
            kind=SpanKind.CLIENT,
            status=StatusCode.ERROR,
            status_message="connection reset",
            attributes={"peer.service": "cartdb", "db.system": "sqlite"},
            resource=FRONTEND_RESOURCE,
            events=(
                Event(
                    t0 + 15 * MS,
                    "exception",
                    {
                        "exception.type": "ConnectionError",
                        "exception.message": "connection reset",
                        "exception.stacktrace": "Traceback ...",
                    },
                ),
            ),
        ),
        Span(
            trace_id=SHOP_TRACE,
            span_id=CART,
            parent_span_id=ROOT,
            name="GetCart",
            service="cart",
            start_ns=t0 - 5 * MS,  # cart's clock runs behind: starts before its parent
            duration_ns=20 * MS,
            kind=SpanKind.SERVER,
            resource=CART_RESOURCE,
            links=(Link(LINKED_TRACE, LINKED_SPAN),),
            events=(Event(t0, "cart.loaded", {"items": 3}),),
        ),
        Span(
            trace_id=SHOP_TRACE,
            span_id=ORPHAN,
            parent_span_id=MISSING_PARENT,
            name="refresh",
            service="cart",
            start_ns=t0 + 50 * MS,
            duration_ns=1 * MS,
            kind=SpanKind.INTERNAL,
            resource=CART_RESOURCE,
        ),
        Span(
            trace_id=HOME_TRACE,
            span_id=HOME_ROOT,
            name="GET /home",
            service="frontend",
            start_ns=t0 + 1000 * MS,
            duration_ns=300 * MS,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.response.status_code": 500,
                "retried": True,
            },
            resource=FRONTEND_RESOURCE,
        ),
        Span(
            trace_id=LEGACY_TRACE,
            span_id=LEGACY_ROOT,
            name="get /legacy",
            service="legacy",
            start_ns=t0 + 2000 * MS,
            duration_ns=2 * MS,
            kind=SpanKind.SERVER,
        ),
    ]
    return Seed(t0, batch_from_spans(spans))
