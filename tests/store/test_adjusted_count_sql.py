"""Each engine's SQL reading of a span's adjusted count (the service graph and dependencies
weigh calls with it) equals ``sampling.adjusted_count``, the one definition, on the same
trace states: known values and random ones (the generators of the Arrow reading's tests)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.sampling.test_adjusted_count import _state

from breadcrumbs.sampling.adjusted_count import adjusted_count
from breadcrumbs.store.clickhouse import sql as clickhouse_sql
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.duckdb import sql as duckdb_sql

from .conftest import CHDB_DIR

KNOWN = [
    "", "ot=th:8", "ot=th:c", "ot=th:fc", "ot=rv:abcdef01234567;th:8",
    "vendor=x,ot=th:c;rv:00000000000000", "vendor=x, ot=th:c ,other=y", "vendor=x,\tot=th:c",
    "ot=th:ffffffffffffff", "ot=th:e666666666666a", "ot=th:C", "ot=th:", "ot=th:fffffffffffffff",
    "ot=th:8g", "xot=th:8", "ot=rv:8", "dd=th:8", "ot=th:0", "it's=th:8",
]  # fmt: skip


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbExecutor]:
    executor = ChdbExecutor(CHDB_DIR)
    yield executor
    executor.close()


def _clickhouse(executor: ChdbExecutor, states: list[str]) -> list[float]:
    text = (
        f"SELECT {clickhouse_sql.ADJUSTED_COUNT} AS w "
        "FROM (SELECT arrayJoin({states:Array(String)}) AS TraceState)"
    )
    return [float(w) for w in executor.query(text, {"states": states}).column(0).to_pylist()]


def _duckdb(states: list[str]) -> list[float]:
    spans = pa.table({"TraceState": pa.array(states, pa.string())})  # noqa: F841 (read by name)
    rows = duckdb.execute(f"SELECT {duckdb_sql.ADJUSTED_COUNT} AS w FROM spans").fetchall()
    return [float(w) for (w,) in rows]


def _check(got: list[float], states: list[str]) -> None:
    expected = adjusted_count(pa.array(states, pa.string())).to_pylist()
    assert len(got) == len(expected)
    for state, value, reference in zip(states, got, expected, strict=True):
        assert math.isclose(value, reference, rel_tol=1e-15), state


def test_known_values_on_both_engines(chdb: ChdbExecutor) -> None:
    _check(_clickhouse(chdb, KNOWN), KNOWN)
    _check(_duckdb(KNOWN), KNOWN)


@given(st.lists(_state.map(lambda state: state or ""), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_random_states_on_both_engines(chdb: ChdbExecutor, states: list[str]) -> None:
    _check(_clickhouse(chdb, states), states)
    _check(_duckdb(states), states)
