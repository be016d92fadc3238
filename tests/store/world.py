"""The small world every storage engine is tested on.

Three instrumented services (frontend, cart, payment) and three uninstrumented peers
(postgres, stripe, a queue reached by address only). Traces, by name (``TRACES``):

- ``A`` +1000 ms: frontend GET /cart -> client -> cart GET /items -> client to postgres
  (typed attributes, an event, a link, a trace state).
- ``B`` +2000 ms: frontend POST /checkout -> client -> payment POST /charge (error, exception
  event, every attribute type) -> client to stripe (error).
- ``C`` +3000 ms: cart alone (another cart instance, resource host.name=node-3).
- ``D`` +4000 ms: frontend GET /cart whose client call to cart never reached cart's spans.
- ``E`` two days before T0: frontend -> cart directly (retention removes it).
- ``F`` +5000 ms: frontend producer -> cart consumer (peer known by server.address only).
- ``G`` +6000 ms: a 64-bit (Zipkin) trace id, ids with leading zeros, one payment span.

Expected query results in ``fixtures/queries.json`` were written from this description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

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

T0: Final = 1_700_000_000_000_000_000
MS: Final = 1_000_000
DAY_NS: Final = 86_400 * 10**9

TRACES: Final[dict[str, str]] = {
    "A": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "B": "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    "C": "c0ffee00c0ffee00c0ffee00c0ffee01",
    "D": "d00dfeed0000000000000000000000d1",
    "E": "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
    "F": "f00000000000000000000000000000f1",
    "G": "000000000000000000000000000000ff",
}
UNKNOWN_TRACE: Final = "0123456789abcdef0123456789abcdef"

FRONTEND: Final[Mapping[str, AttributeValue]] = {
    "service.name": "frontend",
    "host.name": "web-1",
    "process.pid": 4242,
}
CART_1: Final[Mapping[str, AttributeValue]] = {
    "service.name": "cart",
    "host.name": "node-2",
    "k8s.pod.name": "cart-abc",
}
CART_2: Final[Mapping[str, AttributeValue]] = {"service.name": "cart", "host.name": "node-3"}
PAYMENT: Final[Mapping[str, AttributeValue]] = {
    "service.name": "payment",
    "host.name": "pay-1",
    "deployment.environment": "prod",
}


def _at(ms: float) -> int:
    return T0 + int(ms * MS)


def _span(trace: str, sid: str, name: str, service: str, start_ms: float, dur_ms: float,
          resource: Mapping[str, AttributeValue], **kw: object) -> Span:  # fmt: skip
    return Span(
        trace_id=TRACES[trace],
        span_id=sid,
        name=name,
        service=service,
        start_ns=_at(start_ms),
        duration_ns=int(dur_ms * MS),
        resource=resource,
        **kw,  # type: ignore[arg-type]
    )


SPANS: Final[list[Span]] = [
    # --- A ---
    _span("A", "a100000000000001", "GET /cart", "frontend", 1000, 120, FRONTEND,
          kind=SpanKind.SERVER, trace_state="vendor=1",
          scope_name="io.opentelemetry.flask", scope_version="0.48b0",
          attributes={"http.request.method": "GET", "http.route": "/cart",
                      "http.response.status_code": 200},
          events=[Event(_at(1001), "cache.miss", {"cache.key": "cart:42", "attempt": 2})]),
    _span("A", "a100000000000002", "GET cart", "frontend", 1005, 100, FRONTEND,
          parent_span_id="a100000000000001", kind=SpanKind.CLIENT,
          attributes={"http.request.method": "GET", "peer.service": "cart",
                      "server.address": "cart.svc"}),
    _span("A", "a100000000000003", "GET /items", "cart", 1010, 90, CART_1,
          parent_span_id="a100000000000002", kind=SpanKind.SERVER,
          attributes={"http.route": "/items", "http.response.status_code": 200,
                      "user.id": "u-7"}),
    _span("A", "a100000000000004", "SELECT items", "cart", 1020, 40, CART_1,
          parent_span_id="a100000000000003", kind=SpanKind.CLIENT,
          attributes={"db.system": "postgresql", "peer.service": "postgres",
                      "db.statement": "SELECT * FROM items", "retry": True, "ratio": 0.25},
          links=[Link(TRACES["B"], "b100000000000001", "ts=1", {"link.kind": "follows"})]),
    # --- B ---
    _span("B", "b100000000000001", "POST /checkout", "frontend", 2000, 300, FRONTEND,
          kind=SpanKind.SERVER, status=StatusCode.ERROR, status_message="payment failed",
          attributes={"http.route": "/checkout", "http.response.status_code": 500}),
    _span("B", "b100000000000002", "POST payment", "frontend", 2010, 250, FRONTEND,
          parent_span_id="b100000000000001", kind=SpanKind.CLIENT, status=StatusCode.ERROR,
          attributes={"peer.service": "payment"}),
    _span("B", "b100000000000003", "POST /charge", "payment", 2020, 230, PAYMENT,
          parent_span_id="b100000000000002", kind=SpanKind.SERVER, status=StatusCode.ERROR,
          status_message="card declined",
          attributes={"http.response.status_code": 402, "payment.amount": 19.99,
                      "cards": ["visa", "amex"], "limits": {"daily": 100, "currency": "EUR"},
                      "token": b"\x00\x01\xfe"},
          events=[Event(_at(2200), "exception", {"exception.type": "CardDeclined",
                                                 "exception.message": "card declined"})]),
    _span("B", "b100000000000004", "POST /v1/charges", "payment", 2030, 200, PAYMENT,
          parent_span_id="b100000000000003", kind=SpanKind.CLIENT, status=StatusCode.ERROR,
          attributes={"peer.service": "stripe", "server.address": "api.stripe.example"}),
    # --- C ---
    _span("C", "c100000000000001", "GET /items", "cart", 3000, 15, CART_2,
          kind=SpanKind.SERVER,
          attributes={"http.route": "/items", "http.response.status_code": 200,
                      "user.id": "u-9"}),
    _span("C", "c100000000000002", "compute", "cart", 3002, 5, CART_2,
          parent_span_id="c100000000000001", kind=SpanKind.INTERNAL),
    # --- D ---
    _span("D", "d100000000000001", "GET /cart", "frontend", 4000, 8, FRONTEND,
          kind=SpanKind.SERVER,
          attributes={"http.route": "/cart", "http.response.status_code": 304}),
    _span("D", "d100000000000002", "GET cart", "frontend", 4001, 5, FRONTEND,
          parent_span_id="d100000000000001", kind=SpanKind.CLIENT,
          attributes={"peer.service": "cart"}),
    # --- E (old) ---
    _span("E", "e100000000000001", "GET /old", "frontend", -2 * 86_400_000, 50, FRONTEND,
          kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}),
    _span("E", "e100000000000002", "GET /items", "cart", -2 * 86_400_000 + 1, 20, CART_1,
          parent_span_id="e100000000000001", kind=SpanKind.SERVER),
    # --- F ---
    _span("F", "f100000000000001", "publish orders", "frontend", 5000, 3, FRONTEND,
          kind=SpanKind.PRODUCER, attributes={"server.address": "kafka.svc"}),
    _span("F", "f100000000000002", "consume orders", "cart", 5100, 10, CART_1,
          parent_span_id="f100000000000001", kind=SpanKind.CONSUMER),
    # --- G ---
    _span("G", "00000000000000aa", "GET /health", "payment", 6000, 1, PAYMENT,
          kind=SpanKind.SERVER),
]  # fmt: skip

WINDOW_START: Final = T0
WINDOW_END: Final = _at(10_000)


def spans_of(*traces: str) -> list[Span]:
    ids = {TRACES[t] for t in traces}
    return [s for s in SPANS if s.trace_id in ids]


def world_batch() -> SpanBatch:
    return batch_from_spans(SPANS)
