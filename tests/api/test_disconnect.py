"""A query whose client goes away is interrupted: the server's query app (``CancelOnDisconnect``)
on real uvicorn and a real socket, over a real DuckDB store running an endless statement."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.store.test_duckdb_read_isolation import SlowReads, wait_until

from breadcrumbs.server import _bind, _query_app
from breadcrumbs.store.duckdb import DuckDBStore


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, SlowReads, DuckDBStore]]:
    store = DuckDBStore(tmp_path / "spans.duckdb", query_threads=1, query_timeout_s=0)
    slow = SlowReads()

    async def endless(request: Request) -> Response:
        await store._read(slow.work)
        return JSONResponse({"never": "answered"})

    async def stats(request: Request) -> Response:
        return JSONResponse({"spans": (await store.stats()).spans})

    app = _query_app([Route("/endless", endless), Route("/stats", stats)])
    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, lifespan="off", timeout_graceful_shutdown=5)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started, "uvicorn listens")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", slow, store
    finally:
        server.should_exit = True
        await task
        await store.close()


async def test_a_client_going_away_interrupts_its_query(
    served: tuple[str, SlowReads, DuckDBStore],
) -> None:
    url, slow, _ = served
    host, port = url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /endless HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await wait_until(lambda: slow.started == 1, "the endless read runs")
    writer.close()  # the client gives up
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    await wait_until(lambda: slow.ended == 1, "the read was interrupted")
    # The only reader thread is free again: the next query answers.
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        response = await http.get("/stats")
    assert response.status_code == 200
    assert response.json() == {"spans": 0}


async def test_requests_that_stay_are_answered_on_one_connection(
    served: tuple[str, SlowReads, DuckDBStore],
) -> None:
    url, _, _ = served
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for _ in range(3):  # keep-alive: each request's cycle ends cleanly
            response = await http.get("/stats")
            assert response.status_code == 200
            assert response.json() == {"spans": 0}
        assert (await http.get("/missing")).status_code == 404
