"""Properties of the critical path on random trees (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.analysis.aggregate import aggregate_critical_path
from breadcrumbs.analysis.critical_path import critical_path, self_times
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import Span

from .builders import batch, span


@st.composite
def traces(draw: st.DrawFn, trace: str = "4bf92f3577b34da6a3ce929d0e0e4736") -> list[Span]:
    """Random trees with arbitrary (overlapping, outliving, skewed) child times, some spans
    pointing at missing parents and some in several services."""
    count = draw(st.integers(1, 40))
    spans = []
    for number in range(1, count + 1):
        parent = None if number == 1 else draw(st.one_of(st.integers(1, number - 1), st.just(999)))
        start = draw(st.integers(-50, 1000))
        length = draw(st.integers(0, 600))
        spans.append(
            span(
                number,
                parent,
                start,
                start + length,
                service=draw(st.sampled_from(["a", "b", "c"])),
                trace=trace,
            )
        )
    return spans


@settings(max_examples=60, deadline=None)
@given(traces())
def test_the_path_covers_the_root_exactly_without_overlaps(spans: list[Span]) -> None:
    path = critical_path(build_tree(batch(*spans)))
    root = next(s for s in spans if s.span_id == path.root_span_id)
    assert path.total_ns == root.duration_ns
    cursor = root.start_ns
    for segment in path.segments:
        assert segment.start_ns == cursor  # contiguous: no overlap, no hole
        assert segment.end_ns > segment.start_ns or path.total_ns == 0
        cursor = segment.end_ns
    assert cursor == root.start_ns + root.duration_ns
    assert sum(s.duration_ns for s in path.segments) <= max(
        s.start_ns + s.duration_ns for s in spans
    ) - min(s.start_ns for s in spans)


@settings(max_examples=60, deadline=None)
@given(traces())
def test_shares_sum_to_one(spans: list[Span]) -> None:
    path = critical_path(build_tree(batch(*spans)))
    assert sum(s.share for s in path.by_service) == pytest.approx(1.0)
    assert sum(s.share for s in path.by_operation) == pytest.approx(1.0)
    assert sum(s.ns for s in path.by_service) == path.total_ns
    for share in path.by_service:
        assert 0 <= share.uninstrumented_ns <= share.ns


@settings(max_examples=40, deadline=None)
@given(traces())
def test_self_time_is_between_zero_and_the_duration(spans: list[Span]) -> None:
    tree = build_tree(batch(*spans))
    times = self_times(tree)
    assert (times >= 0).all()
    assert (times <= tree.end - tree.start).all()


@settings(max_examples=25, deadline=None)
@given(traces(trace="1" * 32), traces(trace="2" * 32))
def test_aggregating_traces_together_equals_each_alone(one: list[Span], two: list[Span]) -> None:
    both = aggregate_critical_path(batch(*one, *two))
    first, second = (critical_path(build_tree(batch(*t))) for t in (one, two))
    analysed = [p for p in (first, second) if p.total_ns > 0]
    assert both.total_ns == sum(p.total_ns for p in analysed)
    expected: dict[str, int] = {}
    for path in analysed:
        for share in path.by_service:
            expected[share.service] = expected.get(share.service, 0) + share.ns
    assert {s.share.service: s.share.ns for s in both.by_service} == expected
    if both.total_ns:
        assert sum(s.share.share for s in both.by_service) == pytest.approx(1.0)
