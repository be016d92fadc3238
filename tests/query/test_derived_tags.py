"""Searching by the tags the APIs derive from status and kind (``error=true`` above all)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import jaeger, zipkin
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.derived_tags import lift_derived_tags
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.base import TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore


def _query(*tags: TagFilter, span_kind: SpanKind | None = None) -> TraceQuery:
    return TraceQuery(start_ns=0, end_ns=1, tags=tags, span_kind=span_kind)


@pytest.mark.parametrize(
    ("tag", "statuses"),
    [
        (TagFilter("error", "true"), (StatusCode.ERROR,)),
        (TagFilter("error", "TRUE"), (StatusCode.ERROR,)),
        (TagFilter("error", "false"), (StatusCode.UNSET, StatusCode.OK)),
        (TagFilter("otel.status_code", "ERROR"), (StatusCode.ERROR,)),
        (TagFilter("otel.status_code", "ok", "span"), (StatusCode.OK,)),
    ],
)
def test_status_tags_become_status_conditions(
    tag: TagFilter, statuses: tuple[StatusCode, ...]
) -> None:
    lifted = lift_derived_tags(_query(tag, TagFilter("http.route", "/orders")))
    assert lifted.status_codes == statuses
    assert lifted.tags == (TagFilter("http.route", "/orders"),)


def test_span_kind_tag_becomes_the_kind_condition() -> None:
    lifted = lift_derived_tags(_query(TagFilter("span.kind", "server")))
    assert (lifted.span_kind, lifted.tags) == (SpanKind.SERVER, ())


def test_what_names_nothing_or_is_a_resource_stays_a_tag() -> None:
    kept = (
        TagFilter("error", "maybe"),
        TagFilter("span.kind", "sideways"),
        TagFilter("error", "true", "resource"),
    )
    lifted = lift_derived_tags(_query(*kept))
    assert lifted.tags == kept
    assert lifted.status_codes == ()
    assert lifted.span_kind is None


def test_a_kind_tag_that_contradicts_the_kind_parameter_stays_a_tag() -> None:
    tag = TagFilter("span.kind", "client")
    lifted = lift_derived_tags(_query(tag, span_kind=SpanKind.SERVER))
    assert (lifted.span_kind, lifted.tags) == (SpanKind.SERVER, (tag,))


def test_contradictory_status_tags_match_nothing() -> None:
    lifted = lift_derived_tags(_query(TagFilter("error", "true"), TagFilter("error", "false")))
    assert lifted.status_codes == ()
    assert len(lifted.tags) == 1  # a condition no span can meet


@given(st.lists(st.tuples(st.sampled_from(["error", "otel.status_code", "span.kind", "k"]),
                          st.text(max_size=8)), max_size=5))  # fmt: skip
def test_lifting_never_fails_and_is_idempotent(pairs: list[tuple[str, str]]) -> None:
    once = lift_derived_tags(_query(*(TagFilter(k, v) for k, v in pairs)))
    assert lift_derived_tags(once) == once


async def test_error_true_finds_the_failed_traces_through_both_apis(tmp_path: Path) -> None:
    now = time.time_ns() - 10**9
    failed, fine = "e" * 32, "f" * 32
    spans = [
        Span(failed, "1" * 16, "POST /charge", "payment", now, 10**6, kind=SpanKind.SERVER,
             status=StatusCode.ERROR, status_message="division by zero"),
        Span(fine, "2" * 16, "POST /charge", "payment", now + 1, 10**6, kind=SpanKind.SERVER),
    ]  # fmt: skip
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        await store.write(batch_from_spans(spans))
        query = QueryService(store)
        app = Starlette(routes=[*jaeger.routes(query), *zipkin.routes(query)])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://q"
        ) as client:

            async def jaeger_ids(**params: str) -> list[str]:
                response = await client.get("/api/traces", params={"service": "payment", **params})
                assert response.status_code == 200, response.text
                return [trace["traceID"] for trace in response.json()["data"]]

            assert await jaeger_ids(tags='{"error":"true"}') == [failed]
            assert await jaeger_ids(tag="error:true") == [failed]
            assert await jaeger_ids(tags='{"error":"false"}') == [fine]
            assert await jaeger_ids(tags='{"otel.status_code":"ERROR","span.kind":"server"}') == [
                failed
            ]
            zipkin_traces = await client.get(
                "/api/v2/traces", params={"serviceName": "payment", "annotationQuery": "error"}
            )
            assert [t[0]["traceId"] for t in zipkin_traces.json()] == [failed]
            both = await client.get(
                "/api/v2/traces",
                params={"serviceName": "payment", "annotationQuery": "error and http.route"},
            )
            assert both.json() == []  # no failed span has an http.route tag
    finally:
        await store.close()
