"""``analysis.compare`` on hand-built traces with known answers, and a property."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.analysis.compare import compare_traces, trace_shape
from breadcrumbs.model import Span, SpanBatch, StatusCode, batch_from_spans

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def order(trace: str, *, select_ms: int, retries: int = 1, cache: bool = False) -> SpanBatch:
    spans = [
        Span(trace, "0000000000000001", "POST /orders", "gateway", T0, (select_ms + 50) * MS),
        Span(trace, "0000000000000002", "POST /schedule", "delivery", T0 + MS, (select_ms + 5) * MS,
             parent_span_id="0000000000000001"),
        Span(trace, "0000000000000003", "SELECT", "delivery", T0 + 2 * MS, select_ms * MS,
             parent_span_id="0000000000000002"),
    ]  # fmt: skip
    for i in range(retries):
        spans.append(
            Span(trace, f"00000000000001{i:02x}", "POST /reserve", "inventory",
                 T0 + (select_ms + 10 + i) * MS, MS, parent_span_id="0000000000000001",
                 status=StatusCode.ERROR if i < retries - 1 else StatusCode.UNSET)
        )  # fmt: skip
    if cache:
        spans.append(
            Span(trace, "0000000000000009", "cache.lock.wait", "cache", T0 + 3 * MS, 2 * MS,
                 parent_span_id="0000000000000002")
        )  # fmt: skip
    return batch_from_spans(spans)


A, B = "a" * 32, "b" * 32


def test_latency_per_matching_span() -> None:
    result = compare_traces(order(A, select_ms=300), order(B, select_ms=2))
    assert result.delta_ns == 298 * MS
    assert not result.structural
    (biggest, *_) = result.latency()
    assert (biggest.service, biggest.span_name) == ("delivery", "SELECT")
    assert biggest.self_delta_ns == 298 * MS
    assert biggest.path == (
        ("gateway", "POST /orders"),
        ("delivery", "POST /schedule"),
        ("delivery", "SELECT"),
    )
    # The parents' self time did not change: only the SELECT got slower.
    assert {p.span_name: p.self_delta_ns for p in result.paths}["POST /schedule"] == 0


def test_structure_spans_only_in_one_and_repeated_children() -> None:
    result = compare_traces(order(A, select_ms=5, retries=3, cache=True), order(B, select_ms=5))
    by_name = {p.span_name: p for p in result.structural}
    assert by_name["cache.lock.wait"].status == "only-a"
    assert (by_name["POST /reserve"].a.count, by_name["POST /reserve"].b.count) == (3, 1)
    assert by_name["POST /reserve"].status == "count"
    assert by_name["POST /reserve"].a.errors == 2
    reverse = compare_traces(order(B, select_ms=5), order(A, select_ms=5, cache=True))
    assert [p.status for p in reverse.structural] == ["only-b"]


def test_paths_come_depth_first_parents_before_children() -> None:
    result = compare_traces(order(A, select_ms=5, cache=True), order(B, select_ms=5))
    names = [p.span_name for p in result.paths]
    assert names == ["POST /orders", "POST /schedule", "SELECT", "cache.lock.wait", "POST /reserve"]
    assert [p.depth for p in result.paths] == [0, 1, 2, 2, 1]


def test_shape_of_a_trace() -> None:
    shape = trace_shape(order(A, select_ms=10, retries=2))
    assert (shape.trace_id, shape.spans, shape.errors) == (A, 5, 1)
    assert shape.root == ("gateway", "POST /orders")
    assert shape.duration_ns == 60 * MS


def test_a_span_whose_parent_is_missing_is_a_root_and_cycles_end() -> None:
    spans = batch_from_spans(
        [
            Span(A, "0000000000000001", "x", "s", T0, MS, parent_span_id="00000000000000ff"),
            Span(A, "0000000000000002", "y", "s", T0, MS, parent_span_id="0000000000000003"),
            Span(A, "0000000000000003", "z", "s", T0, MS, parent_span_id="0000000000000002"),
        ]
    )
    result = compare_traces(spans, spans)
    assert result.identical
    assert len(result.paths) == 3


_names = st.sampled_from(["GET", "SELECT", "POST /x", "lock"])


@st.composite
def traces(draw: st.DrawFn) -> SpanBatch:
    count = draw(st.integers(1, 25))
    spans = []
    for i in range(count):
        parent = draw(st.integers(0, i)) if i else 0
        spans.append(
            Span(
                A, f"{i + 1:016x}", draw(_names), draw(st.sampled_from(["a", "b"])),
                T0 + draw(st.integers(0, 10**9)), draw(st.integers(0, 10**9)),
                parent_span_id=f"{parent:016x}" if i and parent else "",
                status=draw(st.sampled_from(list(StatusCode))),
            )
        )  # fmt: skip
    return batch_from_spans(spans)


@settings(max_examples=30, deadline=None)
@given(traces())
def test_a_trace_compared_with_itself_shows_no_difference(spans: SpanBatch) -> None:
    result = compare_traces(spans, spans)
    assert result.identical
    assert result.delta_ns == 0
    assert result.structural == ()
    assert result.latency() == ()
    assert sum(p.a.count for p in result.paths) == spans.num_rows


@settings(max_examples=30, deadline=None)
@given(traces(), traces())
def test_comparing_the_other_way_negates_every_difference(a: SpanBatch, b: SpanBatch) -> None:
    forward, backward = compare_traces(a, b), compare_traces(b, a)
    flipped = {p.path: p for p in backward.paths}
    assert forward.delta_ns == -backward.delta_ns
    for p in forward.paths:
        assert flipped[p.path].delta_ns == -p.delta_ns
        assert flipped[p.path].self_delta_ns == -p.self_delta_ns
