"""``take_entries`` (the flush's sort of the attribute maps, gathered from their chunks)
against pyarrow's ``take``, on any chunking and order (hypothesis), and its fallbacks."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.codec.otlp import NATIVE_AVAILABLE
from breadcrumbs.store import gather
from breadcrumbs.store.gather import ENTRIES_TYPE, take_entries

Row = list[tuple[str, str]]

_TEXT = st.text(max_size=6)  # any code point, the empty string included
_ROWS = st.lists(st.lists(st.tuples(_TEXT, _TEXT), max_size=4), min_size=1, max_size=30)


def _column(rows: list[Row], cuts: list[int]) -> pa.ChunkedArray:
    """``rows`` as an ``ENTRIES_TYPE`` column cut into chunks before the rows in ``cuts``."""
    bounds = [0, *sorted({c % len(rows) for c in cuts} - {0}), len(rows)]
    chunks = [
        pa.array([[{"key": k, "value": v} for k, v in row] for row in rows[a:b]], ENTRIES_TYPE)
        for a, b in itertools.pairwise(bounds)
    ]
    return pa.chunked_array(chunks, ENTRIES_TYPE)


@st.composite
def columns_and_orders(draw: st.DrawFn) -> tuple[pa.ChunkedArray, pa.Array]:
    rows = draw(_ROWS)
    column = _column(rows, draw(st.lists(st.integers(min_value=0), max_size=5)))
    index = draw(st.lists(st.integers(min_value=0, max_value=len(rows) - 1), max_size=40))
    return column, pa.array(index, pa.uint64())


@given(columns_and_orders())
@settings(max_examples=200, deadline=None)
def test_the_same_rows_as_pyarrow_take(case: tuple[pa.ChunkedArray, pa.Array]) -> None:
    column, index = case
    got = take_entries(column, index)
    assert got.type == ENTRIES_TYPE
    assert got.to_pylist() == column.take(index).to_pylist()


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="the native decoder is not built")
def test_a_sort_is_gathered_natively_outside_arrows_pool() -> None:
    rows = [[(f"key{i % 7}", f"value {i}")] * (i % 4) for i in range(20_000)]
    column = _column(rows, list(range(0, 20_000, 1000)))
    order = pc.sort_indices(pa.array([(i * 7919) % 20_000 for i in range(20_000)]))
    before = pa.total_allocated_bytes()
    got = take_entries(column, order)
    # Arrow's pool holds neither a concatenation of the chunks nor the result.
    assert pa.total_allocated_bytes() - before < got.nbytes / 10
    assert got.num_chunks == 1
    assert got.to_pylist() == column.take(order).to_pylist()


def test_chunks_it_cannot_read_directly_go_to_pyarrow() -> None:
    rows: list[list[tuple[str, str | None]]] = [[("a", "1")], [("b", None)], [("c", "3")]]
    with_null = pa.chunked_array(
        [pa.array([[{"key": k, "value": v} for k, v in row] for row in rows], ENTRIES_TYPE)]
    )
    sliced = pa.chunked_array([with_null.chunk(0).slice(1)])
    index = pa.array([1, 0], pa.uint64())
    assert take_entries(with_null, index).to_pylist() == with_null.take(index).to_pylist()
    assert take_entries(sliced, index).to_pylist() == sliced.take(index).to_pylist()
    empty = pa.array([], pa.uint64())
    assert take_entries(with_null, empty).to_pylist() == []


def test_an_index_out_of_range_raises_as_pyarrow_does() -> None:
    column = _column([[("a", "1")], [("b", "2")]], [1])
    with pytest.raises(IndexError):
        take_entries(column, pa.array([0, 2], pa.uint64()))


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="the native decoder is not built")
def test_native_offsets_outside_their_buffers_are_refused() -> None:
    import breadcrumbs._native as native

    chunk = _column([[("a", "1")]], []).chunk(0)
    list_offsets, key_offsets, keys, value_offsets, values = gather._buffers(chunk) or []
    too_far = pa.py_buffer(pa.array([0, 5], pa.int32()).buffers()[1])
    index = pa.array([0], pa.uint64()).buffers()[1]
    with pytest.raises(ValueError, match="offsets"):
        native.take_entries([[too_far, key_offsets, keys, value_offsets, values]], index)
    with pytest.raises(ValueError, match="out of range"):
        native.take_entries(
            [[list_offsets, key_offsets, keys, value_offsets, values]],
            pa.array([1], pa.uint64()).buffers()[1],
        )
