"""Zipkin v2 API parameter parsing per zipkin2-api.yaml, and BadInput for anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.query.zipkin_params import (
    DEFAULT_LIMIT,
    ZipkinSearch,
    parse_annotation_query,
    parse_dependencies,
    parse_trace_ids,
    parse_traces,
    required,
)
from breadcrumbs.store.base import TagFilter

NOW = 1_700_000_000_000_000_000
MS = 1_000_000
US = 1_000


def test_full_traces_query() -> None:
    search = parse_traces(
        [
            ("serviceName", "frontend"),
            ("spanName", "get /cart"),
            ("remoteServiceName", "db"),
            ("annotationQuery", "error and http.method=GET and retried"),
            ("minDuration", "1000"),
            ("maxDuration", "5000"),
            ("endTs", "1700000000000"),
            ("lookback", "60000"),
            ("limit", "5"),
        ],
        NOW,
    )
    query = search.query
    assert (query.service, query.operation, query.limit) == ("frontend", "get /cart", 5)
    assert (query.min_duration_ns, query.max_duration_ns) == (1000 * US, 5000 * US)
    assert query.end_ns == 1_700_000_000_000 * MS
    assert query.start_ns == query.end_ns - 60_000 * MS
    assert set(query.tags) == {
        TagFilter("http.method", "GET", "span"),
        TagFilter("peer.service", "db", "span"),
    }
    assert search.required_keys == ("error", "retried")


def test_defaults() -> None:
    search = parse_traces([], NOW)
    assert search.query.limit == DEFAULT_LIMIT == 10
    assert search.query.end_ns == NOW
    assert search.query.start_ns == NOW - 24 * 3600 * 1000 * MS
    assert search.query.service is None
    assert search.required_keys == ()


def test_span_name_all_means_any() -> None:
    assert parse_traces([("spanName", "all")], NOW).query.operation is None


def test_annotation_query_terms() -> None:
    assert parse_annotation_query("") == ((), ())
    assert parse_annotation_query("a=b=c and  x  and y=") == (
        (TagFilter("a", "b=c", "span"),),
        ("x", "y"),
    )


@pytest.mark.parametrize(
    ("pairs", "param"),
    [
        ([("minDuration", "x")], "minDuration"),
        ([("minDuration", "-1")], "minDuration"),
        ([("maxDuration", "10")], "minDuration"),
        ([("minDuration", "10"), ("maxDuration", "5")], "maxDuration"),
        ([("endTs", "now")], "endTs"),
        ([("lookback", "0")], "lookback"),
        ([("limit", "0")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("annotationQuery", "=5")], "annotationQuery"),
    ],
)
def test_bad_values_name_the_parameter(pairs: list[tuple[str, str]], param: str) -> None:
    with pytest.raises(BadInput, match=param):
        parse_traces(pairs, NOW)


def test_dependencies_need_end_ts() -> None:
    assert parse_dependencies([("endTs", "2000"), ("lookback", "1000")], NOW) == (
        2000 * MS,
        1000 * MS,
    )
    with pytest.raises(BadInput, match="endTs"):
        parse_dependencies([("lookback", "1000")], NOW)


def test_trace_ids() -> None:
    assert parse_trace_ids(
        [("traceIds", "ABCDEF0123456789, 463ac35c9f6413ad48485a3953bb6124,")]
    ) == [
        "0000000000000000abcdef0123456789",
        "463ac35c9f6413ad48485a3953bb6124",
    ]
    for bad in ("", ",", "nothex", "0000000000000000"):
        with pytest.raises(BadInput):
            parse_trace_ids([("traceIds", bad)])


def test_required() -> None:
    assert required([("serviceName", "a")], "serviceName") == "a"
    with pytest.raises(BadInput, match="serviceName"):
        required([], "serviceName")


NAMES = st.sampled_from(
    [
        "serviceName",
        "spanName",
        "remoteServiceName",
        "annotationQuery",
        "minDuration",
        "maxDuration",
        "endTs",
        "lookback",
        "limit",
        "traceIds",
    ]
)
PAIRS = st.lists(st.tuples(NAMES, st.text(max_size=30)), max_size=8)


@given(PAIRS)
def test_random_params_parse_or_raise_bad_input(pairs: list[tuple[str, str]]) -> None:
    try:
        search = parse_traces(pairs, NOW)
    except BadInput as error:
        message = error.message
        assert message
    else:
        assert isinstance(search, ZipkinSearch)
        assert 0 <= search.query.start_ns <= search.query.end_ns
    for parse in (lambda p: parse_dependencies(p, NOW), parse_trace_ids):
        with contextlib.suppress(BadInput):
            parse(pairs)


@given(st.text(max_size=60))
def test_random_annotation_queries(text: str) -> None:
    try:
        tags, keys = parse_annotation_query(text)
    except BadInput:
        return
    assert all(tag.key and tag.value for tag in tags)
    assert all(keys)
