"""The landing page: services from a real store, escaped; links that answer."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from starlette.applications import Starlette

from breadcrumbs.api import home, jaeger
from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

HOSTILE = '<script>alert("x")</script>&co'


async def test_home_lists_services_escaped_with_links_that_answer(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        spans = [
            Span("a" * 32, span_id * 16, "GET /", service, time.time_ns() - 10**9, 1000)
            for span_id, service in (("1", "gateway"), ("2", HOSTILE))
        ]
        await store.write(batch_from_spans(spans))
        query = QueryService(store)
        app = Starlette(routes=[*home.routes(query), *jaeger.routes(query)])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ui"
        ) as client:
            page = await client.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "<script>" not in page.text
            assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co" in page.text
            assert "Services (2)" in page.text
            answered = await client.get("/api/traces", params={"service": HOSTILE, "limit": 20})
            assert answered.status_code == 200
            assert answered.json()["data"][0]["traceID"] == "a" * 32
            for link in ("/api/services", "/api/dependencies"):
                assert f'href="{link}"' in page.text
                assert (await client.get(link)).status_code == 200
    finally:
        await store.close()


async def test_home_without_spans_says_how_to_send_them(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        app = Starlette(routes=home.routes(QueryService(store)))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ui"
        ) as client:
            page = await client.get("/")
        assert "Services (0)" in page.text
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in page.text
    finally:
        await store.close()
