"""The adjusted count of a span from its tracestate, against a reference written span by span
from the specification's words."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.sampling.adjusted_count import (
    MAX_ADJUSTED_COUNT,
    adjusted_count,
    adjusted_count_of,
)

HEX = "0123456789abcdef"


def _reference(trace_state: str | None) -> float:
    """Split the members, find the first ``ot``, its first valid ``th`` sub-key (keys are
    unique in a well-formed value); T right-padded to 56 bits."""
    if trace_state is None:
        return 1.0
    for member in trace_state.split(","):
        key, _, value = member.strip(" \t").partition("=")
        if key != "ot":
            continue
        for field in value.split(";"):
            name, _, digits = field.partition(":")
            if name == "th" and 1 <= len(digits) <= 14 and all(c in HEX for c in digits):
                threshold = int(digits.ljust(14, "0"), 16)
                return 2**56 / (2**56 - threshold)
        return 1.0
    return 1.0


@pytest.mark.parametrize(
    ("trace_state", "expected"),
    [
        ("", 1.0),
        ("ot=th:0", 1.0),  # T = 0: kept always
        ("ot=th:8", 2.0),  # p = 1/2
        ("ot=th:c", 4.0),
        ("ot=th:e", 8.0),
        ("ot=th:fc", 64.0),
        ("ot=rv:abcdef01234567;th:8", 2.0),
        ("vendor=x,ot=th:c;rv:00000000000000", 4.0),
        ("vendor=x, ot=th:c ,other=y", 4.0),
        ("ot=th:ffffffffffffff", MAX_ADJUSTED_COUNT),  # T = 2^56 - 1
        ("ot=th:e666666666666a", 2**56 / (2**56 - 0xE666666666666A)),  # p ~ 0.1
        ("ot=th:C", 1.0),  # upper case: invalid
        ("ot=th:", 1.0),
        ("ot=th:fffffffffffffff", 1.0),  # 15 digits
        ("ot=th:8g", 1.0),
        ("xot=th:8", 1.0),  # another vendor's key
        ("ot=rv:8", 1.0),
        ("dd=th:8", 1.0),
    ],
)
def test_known_values(trace_state: str, expected: float) -> None:
    assert adjusted_count_of(trace_state) == pytest.approx(expected, rel=1e-15)
    assert _reference(trace_state) == pytest.approx(expected, rel=1e-15)


_th = st.one_of(
    st.text(HEX, min_size=1, max_size=14),
    st.text(HEX + "ABCDEFgxyz:;= ", min_size=0, max_size=17),
)
_ot_value = st.lists(
    st.one_of(
        _th.map(lambda digits: f"th:{digits}"),
        st.text(HEX, min_size=1, max_size=14).map(lambda digits: f"rv:{digits}"),
        st.text("abcxyz:0123", max_size=6),
    ),
    max_size=3,
).map(";".join)
_member = st.one_of(
    _ot_value.map(lambda value: f"ot={value}"),
    st.text("abcdefot=:;0123 ", max_size=10),
    st.sampled_from(["dd=s:1;t.dm:-4", "rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]),
)
_state = st.one_of(
    st.none(),
    st.lists(_member, max_size=4).map(",".join),
    st.lists(_member, max_size=3).map(" , ".join),
)


@given(st.lists(_state, max_size=40))
@settings(max_examples=300, deadline=None)
def test_the_columnar_reading_equals_the_reference(states: list[str | None]) -> None:
    got = adjusted_count(pa.array(states, pa.string())).to_pylist()
    expected = [_reference(s) for s in states]
    assert len(got) == len(expected)
    for value, reference in zip(got, expected, strict=True):
        assert math.isclose(value, reference, rel_tol=1e-15)
        assert 1.0 <= value <= MAX_ADJUSTED_COUNT


def test_chunked_sliced_and_empty_columns() -> None:
    chunked = pa.chunked_array(
        [pa.array(["ot=th:8", None], pa.string()), pa.array(["", "ot=th:c"], pa.string())]
    )
    assert adjusted_count(chunked).to_pylist() == [2.0, 1.0, 1.0, 4.0]
    sliced = pa.array(["x", "ot=th:8", "ot=th:e", "y"], pa.string()).slice(1, 2)
    assert adjusted_count(sliced).to_pylist() == [2.0, 8.0]
    assert adjusted_count(pa.array([], pa.string())).to_pylist() == []
    assert adjusted_count(pa.array(["ot=th:8"], pa.large_string())).to_pylist() == [2.0]
