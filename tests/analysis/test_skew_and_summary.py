"""Clock skew reports and the trace summary."""

from __future__ import annotations

from breadcrumbs.analysis.explain import explain_trace
from breadcrumbs.analysis.skew import detect_skew
from breadcrumbs.analysis.summary import summarise
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SpanKind

from .builders import batch, sid, span


def test_a_server_span_on_another_host_starting_before_its_client_is_skew() -> None:
    spans = batch(
        span(1, None, 0, 100, service="a", host="h1"),
        span(2, 1, 10, 90, service="a", host="h1", kind=SpanKind.CLIENT),
        span(3, 2, 5, 95, service="b", host="h2", kind=SpanKind.SERVER),
    )
    skew, total = detect_skew(build_tree(spans))
    assert total == 2
    assert [(s.span_id, s.parent_span_id, s.issue, s.by_ns) for s in skew] == [
        (sid(3), sid(2), "starts-before-parent", 5),
        (sid(3), sid(2), "ends-after-parent", 5),
    ]
    assert (skew[0].service, skew[0].parent_service) == ("b", "a")


def test_async_work_on_the_same_host_or_after_a_producer_is_not_skew() -> None:
    spans = batch(
        span(1, None, 0, 100, service="a", host="h1"),
        span(2, 1, 50, 300, service="a", host="h1"),  # outlives its parent, same clock
        span(3, 1, 60, 70, service="a", host="h1", kind=SpanKind.PRODUCER),
        span(4, 3, 80, 400, service="worker", host="h9", kind=SpanKind.CONSUMER),
    )
    assert detect_skew(build_tree(spans)) == ([], 0)


def test_two_replicas_of_one_service_have_two_clocks() -> None:
    spans = batch(
        span(1, None, 10, 100, service="a", host="a-1", kind=SpanKind.CLIENT),
        span(2, 1, 0, 50, service="a", host="a-2", kind=SpanKind.SERVER),
    )
    skew, _ = detect_skew(build_tree(spans))
    assert [(s.issue, s.by_ns) for s in skew] == [("starts-before-parent", 10)]


def test_skew_is_reported_and_the_timestamps_stay_as_received() -> None:
    spans = batch(
        span(1, None, 0, 100, service="a", host="h1", kind=SpanKind.CLIENT),
        span(2, 1, -30, 60, service="b", host="h2", kind=SpanKind.SERVER),
    )
    explained = explain_trace(spans)
    assert explained.skew_total == 1
    assert any("clock" in w for w in explained.warnings)
    assert explained.summary.start_ns == -30  # raw, not adjusted


def test_summary_counts() -> None:
    spans = batch(
        span(1, None, 0, 100, service="gw"),
        span(2, 1, 10, 20, service="api"),
        span(3, 1, 20, 30, service="api", error=True),
        span(4, 1, 30, 40, service="api"),
        span(5, 4, 31, 39, service="db"),
        span(6, 77, 200, 250, service="lost"),  # orphan: a second root
    )
    summary = summarise(build_tree(spans))
    assert summary.span_count == 6
    assert (summary.start_ns, summary.duration_ns) == (0, 250)
    assert summary.depth == 3
    assert summary.max_fan_out == 3
    assert summary.error_count == 1
    assert (summary.root_count, summary.orphan_count) == (2, 1)
    assert summary.root is not None
    assert summary.root.span_id == sid(1)
    assert [(s.name, s.spans, s.errors) for s in summary.services] == [
        ("api", 3, 1),
        ("db", 1, 0),
        ("gw", 1, 0),
        ("lost", 1, 0),
    ]


def test_an_empty_trace_explains_to_nothing() -> None:
    explained = explain_trace(batch())
    assert explained.summary.span_count == 0
    assert explained.critical_path.segments == ()


def test_services_on_one_machine_share_its_clock() -> None:
    # The demo shop: every process on host "vm"; a server span may end after its client
    # span (the response is flushed after the client read it), but no clock is off.
    spans = batch(
        span(1, None, 0, 100, service="gateway", host="vm", kind=SpanKind.CLIENT),
        span(2, 1, 5, 130, service="pricing", host="vm", kind=SpanKind.SERVER),
    )
    assert detect_skew(build_tree(spans)) == ([], 0)
