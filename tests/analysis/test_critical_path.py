"""The critical path on hand-built traces whose answer is known."""

from __future__ import annotations

import pytest

from breadcrumbs.analysis.critical_path import CriticalPath, critical_path, self_times
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SpanKind

from .builders import batch, columnar_batch, sid, span


def path_of(*spans: object) -> CriticalPath:
    return critical_path(build_tree(batch(*spans)))  # type: ignore[arg-type]


def pieces(path: CriticalPath) -> list[tuple[str, int, int, bool]]:
    return [(s.span_id, s.start_ns, s.end_ns, s.uninstrumented) for s in path.segments]


def test_a_lone_span_is_its_own_path() -> None:
    path = path_of(span(1, None, 100, 400))
    assert pieces(path) == [(sid(1), 100, 400, False)]
    assert path.total_ns == 300
    assert [(s.service, s.share) for s in path.by_service] == [("svc", 1.0)]


def test_sequential_children_and_the_gaps_between_them() -> None:
    path = path_of(
        span(1, None, 0, 100),
        span(2, 1, 10, 40),
        span(3, 1, 50, 90),
    )
    assert pieces(path) == [
        (sid(1), 0, 10, True),
        (sid(2), 10, 40, False),
        (sid(1), 40, 50, True),
        (sid(3), 50, 90, False),
        (sid(1), 90, 100, True),
    ]


def test_concurrent_children_only_the_last_to_finish_counts() -> None:
    # 2 and 3 run together; 3 finishes last, so 2 never blocked the parent.
    path = path_of(
        span(1, None, 0, 100),
        span(2, 1, 10, 60),
        span(3, 1, 10, 80),
        span(4, 1, 85, 100),
    )
    assert pieces(path) == [
        (sid(1), 0, 10, True),
        (sid(3), 10, 80, False),
        (sid(1), 80, 85, True),
        (sid(4), 85, 100, False),
    ]


def test_overlapping_children_chain_back_through_the_earlier_one() -> None:
    # 3 starts at 50 while 2 (10-60) is still running: 2 did not gate 3, so 10-50 is the
    # parent's own time, but covered by 2: not uninstrumented. Only 0-10 is.
    path = path_of(span(1, None, 0, 100), span(2, 1, 10, 60), span(3, 1, 50, 100))
    assert pieces(path) == [
        (sid(1), 0, 10, True),
        (sid(1), 10, 50, False),
        (sid(3), 50, 100, False),
    ]


def test_a_child_outliving_its_parent_counts_only_while_the_parent_lasts() -> None:
    # 3 is async work that goes on after the root returned: clamped at 100.
    path = path_of(span(1, None, 0, 100), span(2, 1, 0, 30), span(3, 1, 40, 500))
    assert pieces(path) == [
        (sid(2), 0, 30, False),
        (sid(1), 30, 40, True),
        (sid(3), 40, 100, False),
    ]
    assert path.total_ns == 100


def test_a_child_starting_after_its_parent_ended_is_not_on_the_path() -> None:
    path = path_of(span(1, None, 0, 100), span(2, 1, 150, 300, kind=SpanKind.CONSUMER))
    assert pieces(path) == [(sid(1), 0, 100, False)]
    assert (path.excluded, path.late) == (1, 1)


def test_a_skewed_child_is_clamped_into_its_parent() -> None:
    # The server half's clock is 20 ns behind: it seems to start before the client span.
    path = path_of(
        span(1, None, 0, 100, service="a"),
        span(2, 1, 10, 90, service="a", kind=SpanKind.CLIENT),
        span(3, 2, -10, 70, service="b", kind=SpanKind.SERVER, host="h2"),
    )
    assert pieces(path) == [
        (sid(1), 0, 10, True),
        (sid(3), 10, 70, False),
        (sid(2), 70, 90, True),
        (sid(1), 90, 100, True),
    ]


def test_deep_nesting_descends_into_grandchildren() -> None:
    path = path_of(
        span(1, None, 0, 100, service="gw"),
        span(2, 1, 10, 90, service="api"),
        span(3, 2, 20, 80, service="db"),
    )
    assert [(s.service, s.ns, s.uninstrumented_ns) for s in path.by_service] == [
        ("db", 60, 0),
        ("api", 20, 20),
        ("gw", 20, 20),
    ]
    assert sum(s.share for s in path.by_service) == pytest.approx(1.0)
    assert sum(s.share for s in path.by_operation) == pytest.approx(1.0)


def test_orphans_are_left_out_and_the_longest_true_root_is_followed() -> None:
    path = path_of(
        span(1, None, 0, 100),
        span(2, 1, 10, 20),
        span(5, 99, 0, 1000, service="lost"),  # its parent never arrived
    )
    assert path.root_span_id == sid(1)
    assert {s.span_id for s in path.segments} == {sid(1), sid(2)}
    assert (path.excluded, path.late) == (1, 0)


def test_without_a_true_root_the_longest_orphan_is_followed() -> None:
    path = path_of(span(2, 99, 0, 50), span(3, 98, 0, 80), span(4, 3, 10, 20))
    assert path.root_span_id == sid(3)


def test_a_client_leaf_names_the_untraced_peer() -> None:
    path = path_of(
        span(1, None, 0, 100, service="pricing"),
        span(
            2,
            1,
            10,
            100,
            service="pricing",
            kind=SpanKind.CLIENT,
            attributes={"peer.service": "legacy-pricing"},
        ),
    )
    assert path.segments[-1].peer == "legacy-pricing"


def test_zero_length_root() -> None:
    path = path_of(span(1, None, 50, 50))
    assert path.total_ns == 0
    assert [s.share for s in path.by_service] == [1.0]


def test_self_time_is_duration_minus_the_union_of_children() -> None:
    tree = build_tree(
        batch(
            span(1, None, 0, 100),
            span(2, 1, 10, 40),
            span(3, 1, 30, 60),  # overlaps 2: the union is 10-60
            span(4, 1, 90, 150),  # clamped at 100
            span(5, 2, 15, 20),
        )
    )
    by_id = {tree.span_id(row): int(t) for row, t in enumerate(self_times(tree))}
    assert by_id == {sid(1): 100 - 50 - 10, sid(2): 25, sid(3): 30, sid(4): 60, sid(5): 5}


def test_a_100k_span_trace() -> None:
    # A root calling 1000 services one after another, each with 99 concurrent children
    # (child k of call c ends at c*1000 + 100 + k, so the last one gates the call).
    parents, starts, ends, services = [0], [0], [1_000_000], ["root"]
    for call in range(1000):
        begin = call * 1000
        call_id = len(starts) + 1
        parents.append(1)
        starts.append(begin)
        ends.append(begin + 900)
        services.append(f"s{call % 7}")
        for child in range(99):
            parents.append(call_id)
            starts.append(begin + 10)
            ends.append(begin + 100 + child)
            services.append("leaf")
    path = critical_path(build_tree(columnar_batch(parents, starts, ends, services)))
    assert len(starts) == 100_001
    assert path.total_ns == 1_000_000
    assert sum(s.end_ns - s.start_ns for s in path.segments) == 1_000_000
    shares = {s.service: (s.ns, s.uninstrumented_ns) for s in path.by_service}
    # per call: 10 before the children, the last child (10..198), 702 after it; 100 in root
    assert shares["root"] == (100 * 1000, 100 * 1000)
    assert shares["leaf"] == (188 * 1000, 0)
    assert sum(ns for ns, _ in shares.values()) == 1_000_000
