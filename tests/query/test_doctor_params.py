"""``query.doctor.parse_window``: the doctor's time range from API parameters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.query.doctor import (
    DEFAULT_LOOKBACK_NS,
    DEFAULT_SETTLE_NS,
    MAX_WINDOW_NS,
    parse_window,
)
from breadcrumbs.store.base import DoctorWindow

NOW = 1_800_000_000_000_000_000
HOUR = 3600 * 10**9


def span(window: DoctorWindow) -> tuple[int, int]:
    return window.start_ns, window.end_ns


def test_the_default_is_the_last_hour() -> None:
    window = parse_window([], NOW)
    assert span(window) == (NOW - DEFAULT_LOOKBACK_NS, NOW)
    assert DEFAULT_LOOKBACK_NS == HOUR
    assert window.settle_ns == DEFAULT_SETTLE_NS == 30 * 10**9


def test_settle_in_go_durations() -> None:
    assert parse_window([("settle", "3s")], NOW).settle_ns == 3 * 10**9
    assert parse_window([("settle", "0")], NOW).settle_ns == 0


def test_lookback_in_go_durations_and_days() -> None:
    assert span(parse_window([("lookback", "15m")], NOW)) == (NOW - HOUR // 4, NOW)
    assert span(parse_window([("lookback", "2d")], NOW)) == (NOW - 48 * HOUR, NOW)


def test_start_and_end_in_ns() -> None:
    params = [("start", str(NOW - 5 * HOUR)), ("end", str(NOW - HOUR)), ("lookback", "1m")]
    assert span(parse_window(params, NOW)) == (NOW - 5 * HOUR, NOW - HOUR)
    assert span(parse_window([("end", str(NOW - HOUR))], NOW)) == (NOW - 2 * HOUR, NOW - HOUR)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("lookback", "soon")], "lookback"),
        ([("lookback", "0")], "more than 0"),
        ([("start", str(NOW)), ("end", str(NOW - 1))], "before 'end'"),
        ([("start", "-5")], "start"),
        ([("start", "0")], "31 days"),
        ([("end", "1e9")], "end"),
        ([("settle", "2h")], "settle"),
        ([("settle", "soon")], "settle"),
    ],
)
def test_bad_windows_say_what_is_wrong(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadInput, match=re.escape(message)):
        parse_window(params, NOW)


NAMES = st.sampled_from(["start", "end", "lookback", "settle", "other"])
VALUES = st.one_of(
    st.text(max_size=24),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from(["1h", "15m", "2d", "1w", "custom", "0", "1.5h", "99999999h"]),
)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=5))
def test_random_params_give_a_bounded_window_or_bad_input(pairs: list[tuple[str, str]]) -> None:
    try:
        window = parse_window(pairs, NOW)
    except BadInput:
        return  # its message is checked above
    assert 0 <= window.start_ns < window.end_ns
    assert window.end_ns - window.start_ns <= MAX_WINDOW_NS
    assert 0 <= window.settle_ns <= 3600 * 10**9
