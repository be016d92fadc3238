"""The native codec's tree helpers against a plain reference, on any forest (hypothesis)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.codec.native import depths, parent_rows


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
