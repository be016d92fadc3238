"""The native codec's tree helpers against a plain reference, on any forest (hypothesis)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.codec.native import build, depths, parent_rows
from breadcrumbs.model import Span, batch_from_spans


@st.composite
def forests(draw: st.DrawFn) -> list[int]:
    """parent[i] < i or -1: any forest, in an order where a parent comes first."""
    n = draw(st.integers(min_value=1, max_value=200))
    return [draw(st.integers(min_value=-1, max_value=i - 1)) for i in range(n)]


@given(forests())
def test_depths_match_walking_up_the_tree(parent: list[int]) -> None:
    def walk(i: int) -> int:
        return 0 if parent[i] < 0 else 1 + walk(parent[i])

    got = depths(pa.array(parent, pa.int64())).to_pylist()
    assert got == [walk(i) for i in range(len(parent))]


def test_a_parent_cycle_stops_instead_of_looping() -> None:
    got = depths(pa.array([1, 0, -1], pa.int64())).to_pylist()
    assert got[2] == 0
    assert len(got) == 3


def test_parent_rows_point_at_rows_or_minus_one() -> None:
    ids = pa.array(["a", "b", "c"])
    parents = pa.array(["", "a", "zz"])
    assert parent_rows(ids, parents).to_pylist() == [-1, 0, -1]


def test_build_sorts_rows_by_start_and_their_warnings_follow() -> None:
    trace = "ab" * 16
    spans = [Span(trace, f"{i + 1:016x}", f"op{i}", "svc", 1_000 + 10 * i, 5) for i in range(4)]
    batch = batch_from_spans(list(reversed(spans)))  # stored newest first
    warnings = [("w3",), (), ("w1",), ()]  # row i of the reversed batch
    built = build(batch, warnings, cap=10)
    assert built.start.to_pylist() == [0, 10, 20, 30]
    assert built.span_ids.to_pylist() == [f"{i + 1:016x}" for i in range(4)]
    assert built.span_warnings == [(1, "w1"), (3, "w3")]
    capped = build(batch, warnings, cap=2)
    assert capped.span_ids.to_pylist() == ["0000000000000001", "0000000000000002"]
    assert capped.summary["warnings"] == [
        "this trace has 4 spans; only the first 2 by start time are shown"
    ]
