"""Query-time adjusters: dedupe, sort, clock skew and the warnings Jaeger shows."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from breadcrumbs.codec.zipkin import SHARED_KEY
from breadcrumbs.model import Event, Span, SpanKind, batch_from_spans, concat_batches
from breadcrumbs.query.adjusters import (
    WARNING_DUPLICATE_SPAN_ID,
    ZIPKIN_SHARED_KEY,
    AdjustedTrace,
    adjust,
    dedupe,
    format_go_duration,
    make_clock_skew,
    sort_by_start,
    standard_adjusters,
)

TRACE = "463ac35c9f6413ad48485a3953bb6124"
MS = 1_000_000
T0 = 1_700_000_000_000 * MS


def span(
    span_id: str,
    start_ms: float,
    dur_ms: float,
    parent: str = "",
    service: str = "front",
    **kw: object,
) -> Span:
    return Span(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name=f"op-{span_id[-1]}",
        service=service,
        start_ns=T0 + int(start_ms * MS),
        duration_ns=int(dur_ms * MS),
        **kw,  # type: ignore[arg-type]
    )


A, B, C, D = ("a" * 16, "b" * 16, "c" * 16, "d" * 16)


def rows(trace: AdjustedTrace, column: str) -> list[Any]:
    values: list[Any] = trace.spans[column].to_pylist()
    return values


def test_dedupe_drops_identical_rows_only() -> None:
    batch = batch_from_spans([span(A, 0, 10), span(B, 1, 2, A)])
    changed = batch_from_spans([span(B, 1, 3, A)])  # same id, different duration: kept
    trace = dedupe(AdjustedTrace.of(concat_batches([batch, batch, changed])))
    assert sorted(rows(trace, "SpanId")) == [A, B, B]
    assert len(trace.warnings) == 3


def test_sort_by_start_then_span_id() -> None:
    trace = sort_by_start(
        AdjustedTrace.of(batch_from_spans([span(C, 5, 1), span(B, 1, 1), span(A, 5, 1)]))
    )
    assert rows(trace, "SpanId") == [B, A, C]


def test_child_before_parent_in_other_service_is_shifted_inside() -> None:
    events = (Event(T0 - 4 * MS, "retry", {}),)
    spans = [
        span(A, 0, 100),  # front: [0, 100]
        span(B, -5, 20, A, service="cart", events=events),  # starts 5 ms before its parent
        span(C, -4, 2, B, service="cart"),  # same host as B: moves with it
    ]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    starts = dict(zip(rows(trace, "SpanId"), rows(trace, "Timestamp"), strict=True))
    # latency split evenly: (100 - 20) / 2 = 40 ms after the parent's start
    assert starts[B] == T0 + 40 * MS
    assert starts[C] == T0 + 41 * MS
    warnings = dict(zip(rows(trace, "SpanId"), trace.warnings, strict=True))
    assert warnings[B] == ("This span's timestamps were adjusted by 45ms",)
    assert warnings[C] == ("This span's timestamps were adjusted by 45ms",)
    assert warnings[A] == ()
    event = next(e for e in rows(trace, "Events") if e)[0]
    assert event["Timestamp"] == T0 + 41 * MS
    assert rows(trace, "SpanId") == [A, B, C]


def test_same_service_is_not_adjusted() -> None:
    spans = [span(A, 0, 100), span(B, -5, 20, A)]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    assert rows(trace, "Timestamp") == [T0 - 5 * MS, T0]
    assert trace.warnings == ((), ())


def test_longer_child_is_aligned_to_parent_start() -> None:
    spans = [span(A, 0, 10), span(B, -3, 50, A, service="slow")]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    assert sorted(rows(trace, "Timestamp")) == [T0, T0]


def test_missing_parent_is_warned_and_treated_as_root() -> None:
    spans = [span(A, 0, 10), span(B, 1, 2, D, service="x")]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    warnings = dict(zip(rows(trace, "SpanId"), trace.warnings, strict=True))
    assert warnings[B] == (f"invalid parent span IDs={D}; skipping clock skew adjustment",)
    assert warnings[A] == ()


def test_duplicate_span_id_is_warned() -> None:
    spans = [span(A, 0, 10), span(A, 0, 11, service="other")]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    assert WARNING_DUPLICATE_SPAN_ID in trace.warnings[1]


def test_deltas_beyond_the_maximum_are_not_applied() -> None:
    spans = [span(A, 0, 100), span(B, -60_000, 20, A, service="cart")]
    trace = adjust(batch_from_spans(spans), (make_clock_skew(max_delta_ns=1_000 * MS),))
    assert sorted(rows(trace, "Timestamp")) == [T0 - 60_000 * MS, T0]
    assert "max clock skew adjustment delta of 1s exceeded" in trace.warnings[1][0]


def test_input_is_not_mutated() -> None:
    batch = batch_from_spans([span(A, 0, 100), span(B, -5, 20, A, service="cart")])
    before = batch.to_pylist()
    adjust(batch, standard_adjusters())
    assert batch.to_pylist() == before


def test_cycles_do_not_hang() -> None:
    spans = [span(A, 0, 10, B, service="x"), span(B, 0, 10, A, service="y")]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    assert trace.spans.num_rows == 2


def test_empty_trace() -> None:
    trace = adjust(batch_from_spans([]), standard_adjusters())
    assert trace.spans.num_rows == 0
    assert trace.trace_id == ""
    assert isinstance(trace.spans, pa.Table)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (45 * MS, "45ms"),
        (1_234_567, "1.234567ms"),
        (1_000 * MS, "1s"),
        (90 * 1_000 * MS, "1m30s"),
        (3_723_500 * MS, "1h2m3.5s"),
        (-45 * MS, "-45ms"),
    ],
)
def test_go_duration_format(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


def test_zipkin_shared_server_half_gets_its_own_id() -> None:
    shared = {ZIPKIN_SHARED_KEY: True}
    spans = [
        span(A, 0, 100),
        span(B, 10, 50, A, kind=SpanKind.CLIENT),
        span(B, 12, 40, A, service="cart", kind=SpanKind.SERVER, attributes=shared),
        span(C, 15, 10, B, service="cart"),  # the server half's child
    ]
    trace = adjust(batch_from_spans(spans), standard_adjusters())
    ids = rows(trace, "SpanId")
    assert len(set(ids)) == 4
    server = ids[2]
    assert server not in (A, B, C)
    assert rows(trace, "ParentSpanId") == ["", A, B, server]
    assert all(WARNING_DUPLICATE_SPAN_ID not in w for w in trace.warnings)


def test_shared_key_is_the_zipkin_codecs() -> None:
    assert ZIPKIN_SHARED_KEY == SHARED_KEY
