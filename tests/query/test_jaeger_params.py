"""Jaeger API parameter parsing: Jaeger's documented syntax, and BadInput for anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanKind
from breadcrumbs.query.jaeger_params import (
    DEFAULT_LIMIT,
    DEFAULT_LOOKBACK_NS,
    TraceSearch,
    parse_dependencies,
    parse_go_duration,
    parse_lookback,
    parse_operations,
    parse_rfc3339,
    parse_trace_search,
    parse_v3_operations,
    parse_v3_search,
)
from breadcrumbs.store.base import TagFilter

NOW = 1_700_000_000_000_000_000
MS = 1_000_000
US = 1_000
S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("150ms", 150 * MS),
        ("1.2s", 1_200 * MS),
        ("1m30s", 90 * S),
        ("500us", 500 * US),
        ("500µs", 500 * US),
        ("500μs", 500 * US),
        ("7ns", 7),
        ("2h", 7200 * S),
        ("1h15m30.5s", (3600 + 15 * 60 + 30) * S + 500 * MS),
        ("0", 0),
        (".5s", 500 * MS),
        ("5.s", 5 * S),
        ("+3ms", 3 * MS),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_go_duration(text, "minDuration") == ns


@pytest.mark.parametrize("text", ["", "ms", "1", "1.5", "-5ms", "5 ms", "1d", ".s", "1msx", "abc"])
def test_bad_go_durations_name_the_parameter(text: str) -> None:
    with pytest.raises(BadInput, match="minDuration"):
        parse_go_duration(text, "minDuration")


def test_lookback_accepts_ui_values() -> None:
    assert parse_lookback("1h") == 3600 * S
    assert parse_lookback("2d") == 2 * 24 * 3600 * S
    assert parse_lookback("1w") == 7 * 24 * 3600 * S
    assert parse_lookback("custom") is None
    assert parse_lookback("") is None


def test_full_search() -> None:
    search = parse_trace_search(
        [
            ("service", "shop"),
            ("operation", "GET /cart"),
            ("tag", "http.status_code:500"),
            ("tag", "url:http://x:8080/a"),
            ("tags", '{"error":"true","retries":3}'),
            ("start", "1000"),
            ("end", "2000"),
            ("minDuration", "1.5ms"),
            ("maxDuration", "1s"),
            ("limit", "20"),
            ("lookback", "1h"),
        ],
        NOW,
    )
    query = search.query
    assert (query.service, query.operation) == ("shop", "GET /cart")
    assert (query.start_ns, query.end_ns) == (1000 * US, 2000 * US)
    assert (query.min_duration_ns, query.max_duration_ns) == (1_500 * US, S)
    assert query.limit == 20
    assert set(query.tags) == {
        TagFilter("http.status_code", "500"),
        TagFilter("url", "http://x:8080/a"),
        TagFilter("error", "true"),
        TagFilter("retries", "3"),
    }
    assert search.trace_ids == ()


def test_defaults_follow_jaeger() -> None:
    query = parse_trace_search([("service", "shop")], NOW).query
    assert query.limit == DEFAULT_LIMIT == 100
    assert query.end_ns == NOW
    assert query.start_ns == NOW - DEFAULT_LOOKBACK_NS
    assert query.operation is None
    assert query.tags == ()
    assert query.min_duration_ns is None
    assert query.max_duration_ns is None


def test_lookback_without_start_sets_the_window() -> None:
    query = parse_trace_search([("service", "a"), ("lookback", "1h")], NOW).query
    assert query.start_ns == NOW - 3600 * S


def test_trace_ids_make_service_optional() -> None:
    search = parse_trace_search([("traceID", "ABCDEF0123456789")], NOW)
    assert search.trace_ids == ("0000000000000000abcdef0123456789",)


@pytest.mark.parametrize(
    ("pairs", "param"),
    [
        ([], "service"),
        ([("service", "a"), ("limit", "x")], "limit"),
        ([("service", "a"), ("limit", "0")], "limit"),
        ([("service", "a"), ("start", "1.5")], "start"),
        ([("service", "a"), ("end", "yesterday")], "end"),
        ([("service", "a"), ("minDuration", "10")], "minDuration"),
        ([("service", "a"), ("maxDuration", "fast")], "maxDuration"),
        ([("service", "a"), ("minDuration", "2s"), ("maxDuration", "1s")], "maxDuration"),
        ([("service", "a"), ("tag", "novalue")], "tag"),
        ([("service", "a"), ("tags", "{not json")], "tags"),
        ([("service", "a"), ("tags", "[1,2]")], "tags"),
        ([("service", "a"), ("tags", '{"k":{"x":1}}')], "tags"),
        ([("service", "a"), ("start", "5"), ("end", "4")], "start"),
        ([("service", "a"), ("lookback", "soon")], "lookback"),
        ([("traceID", "xyz")], "trace id"),
    ],
)
def test_bad_values_name_the_parameter(pairs: list[tuple[str, str]], param: str) -> None:
    with pytest.raises(BadInput, match=param):
        parse_trace_search(pairs, NOW)


def test_dependencies_in_ms() -> None:
    assert parse_dependencies([("endTs", "1000"), ("lookback", "60000")], NOW) == (
        1000 * MS,
        60_000 * MS,
    )
    assert parse_dependencies([], NOW) == (NOW, 24 * 3600 * S)
    with pytest.raises(BadInput, match="lookback"):
        parse_dependencies([("lookback", "0")], NOW)


def test_operations_params() -> None:
    assert parse_operations([("service", "a"), ("spanKind", "server")]) == ("a", SpanKind.SERVER)
    assert parse_operations([("service", "a")]) == ("a", None)
    with pytest.raises(BadInput, match="service"):
        parse_operations([("spanKind", "server")])
    with pytest.raises(BadInput, match="spanKind"):
        parse_operations([("service", "a"), ("spanKind", "sideways")])


NAMES = st.sampled_from(
    [
        "service",
        "operation",
        "tag",
        "tags",
        "start",
        "end",
        "lookback",
        "minDuration",
        "maxDuration",
        "limit",
        "traceID",
        "spanKind",
        "endTs",
    ]
)
PAIRS = st.lists(st.tuples(NAMES, st.text(max_size=30)), max_size=8)


@given(PAIRS)
def test_random_search_params_parse_or_raise_bad_input(pairs: list[tuple[str, str]]) -> None:
    try:
        search = parse_trace_search(pairs, NOW)
    except BadInput as error:
        message = error.message
        assert message
        return
    assert isinstance(search, TraceSearch)
    assert 0 <= search.query.start_ns <= search.query.end_ns
    assert search.query.limit >= 1


@given(PAIRS)
def test_random_dependency_and_operation_params(pairs: list[tuple[str, str]]) -> None:
    for parse in (lambda p: parse_dependencies(p, NOW), parse_operations):
        with contextlib.suppress(BadInput):
            parse(pairs)


@given(st.text(max_size=20))
def test_random_durations_parse_or_raise(text: str) -> None:
    with contextlib.suppress(BadInput):
        assert parse_go_duration(text, "d") >= 0


def test_empty_form_fields_count_as_absent() -> None:
    query = parse_trace_search(
        [
            ("service", "a"),
            ("operation", ""),
            ("tags", ""),
            ("tag", ""),
            ("minDuration", ""),
            ("maxDuration", ""),
            ("limit", ""),
            ("traceID", ""),
        ],
        NOW,
    ).query
    assert query.tags == ()
    assert query.operation is None
    assert query.limit == DEFAULT_LIMIT


def test_rfc3339_times() -> None:
    base = 1_704_067_200 * S  # 2024-01-01T00:00:00Z
    assert parse_rfc3339("2024-01-01T00:00:00Z", "t") == base
    assert parse_rfc3339("2024-01-01T00:00:00.000000123Z", "t") == base + 123
    assert parse_rfc3339("2024-01-01T01:00:00.5+01:00", "t") == base + 500 * MS
    assert parse_rfc3339("2023-12-31t23:00:00-01:00", "t") == base
    for bad in ("2024-01-01", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", "x"):
        with pytest.raises(BadInput, match="t"):
            parse_rfc3339(bad, "t")


def test_v3_search() -> None:
    query = parse_v3_search(
        [
            ("query.service_name", "shop"),
            ("query.operation_name", "GET /cart"),
            ("query.start_time_min", "2024-01-01T00:00:00Z"),
            ("query.start_time_max", "2024-01-01T01:00:00Z"),
            ("query.duration_min", "1ms"),
            ("query.num_traces", "7"),
        ]
    )
    assert (query.service, query.operation, query.limit) == ("shop", "GET /cart", 7)
    assert query.end_ns - query.start_ns == 3600 * S
    assert query.min_duration_ns == MS
    with pytest.raises(BadInput, match="required"):
        parse_v3_search([("query.service_name", "shop")])
    assert parse_v3_operations([("service", "a"), ("span_kind", "client")]) == (
        "a",
        SpanKind.CLIENT,
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "query.service_name",
                    "query.start_time_min",
                    "query.start_time_max",
                    "query.num_traces",
                    "query.duration_min",
                    "query.duration_max",
                ]
            ),
            st.text(max_size=30) | st.datetimes().map(lambda d: d.isoformat() + "Z"),
        ),
        max_size=6,
    )
)
def test_random_v3_params_parse_or_raise_bad_input(pairs: list[tuple[str, str]]) -> None:
    with contextlib.suppress(BadInput):
        query = parse_v3_search(pairs)
        assert 0 <= query.start_ns <= query.end_ns
