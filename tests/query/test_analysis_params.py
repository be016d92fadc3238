"""Parameters of /api/x/why and /api/x/latency: defaults, each criterion, and BadInput (never
another exception) for anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.query.analysis_params import (
    DEFAULT_LOOKBACK_NS,
    parse_latency,
    parse_percentile,
    parse_typical_window,
    parse_why,
)

NOW = 1_700_000_000_000_000_000
MS = 1_000_000


def test_defaults_are_the_slowest_tenth_of_the_last_hour() -> None:
    asked = parse_why([("service", "gateway")], NOW)
    endpoint = asked.selection.endpoint
    assert (endpoint.service, endpoint.operation) == ("gateway", None)
    assert (endpoint.start_ns, endpoint.end_ns) == (NOW - DEFAULT_LOOKBACK_NS, NOW)
    assert asked.selection.percentile == 90
    assert asked.limit == 15


@pytest.mark.parametrize(
    ("pairs", "field", "value"),
    [
        ([("slowerThan", "200ms")], "slower_than_ns", 200 * MS),
        ([("percentile", "99.5")], "percentile", 99.5),
        ([("errors", "true")], "errors", True),
    ],
)
def test_each_criterion(pairs: list[tuple[str, str]], field: str, value: object) -> None:
    asked = parse_why([("service", "s"), ("operation", "GET /"), *pairs], NOW)
    assert getattr(asked.selection, field) == value
    assert asked.selection.endpoint.operation == "GET /"


def test_window_from_start_end_or_lookback() -> None:
    asked = parse_why([("service", "s"), ("start", "10"), ("end", "20")], NOW)
    assert (asked.selection.endpoint.start_ns, asked.selection.endpoint.end_ns) == (10, 20)
    asked = parse_why([("service", "s"), ("lookback", "2d")], NOW)
    assert asked.selection.endpoint.start_ns == NOW - 2 * 86_400 * 10**9
    assert parse_typical_window([("lookback", "30m")], NOW) == 1800 * 10**9


@pytest.mark.parametrize(
    "pairs",
    [
        [],
        [("service", " ")],
        [("service", "s"), ("slowerThan", "1s"), ("errors", "1")],
        [("service", "s"), ("percentile", "100")],
        [("service", "s"), ("percentile", "nan")],
        [("service", "s"), ("errors", "maybe")],
        [("service", "s"), ("start", "20"), ("end", "10")],
        [("service", "s"), ("limit", "0")],
        [("service", "s"), ("slowerThan", "fast")],
    ],
)
def test_bad_parameters_are_bad_input(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(BadInput):
        parse_why(pairs, NOW)


def test_latency_parameters() -> None:
    asked = parse_latency(
        [("service", "s"), ("timeBuckets", "10"), ("bucketsPerDoubling", "2")], NOW
    )
    assert (asked.time_buckets, asked.buckets_per_doubling) == (10, 2)
    with pytest.raises(BadInput):
        parse_latency([("service", "s"), ("timeBuckets", "0")], NOW)
    with pytest.raises(BadInput):
        parse_percentile("-1")


NAMES = st.sampled_from(
    ["service", "operation", "start", "end", "lookback", "slowerThan", "percentile", "errors",
     "limit", "timeBuckets", "bucketsPerDoubling"]
)  # fmt: skip
VALUES = st.text(max_size=12) | st.integers(-(2**70), 2**70).map(str) | st.floats().map(str)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_any_parameters_parse_or_raise_bad_input(pairs: list[tuple[str, str]]) -> None:
    for parse in (parse_why, parse_latency):
        with contextlib.suppress(BadInput):
            parse(pairs, NOW)
    with contextlib.suppress(BadInput):
        parse_typical_window(pairs, NOW)
