"""cache: a tiny key-value cache. Under cache-lock-contention a janitor task holds the
shard lock most of the time, and every read waits for it in a ``cache.lock.wait`` span."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

HOLD_S = 0.06  # the janitor's critical section
PAUSE_S = 0.008  # ...and how briefly it lets go


def build(ctx: ServiceContext) -> ServiceSpec:
    store: dict[str, Any] = {}
    lock = asyncio.Lock()

    async def janitor(ctx: ServiceContext) -> None:
        while True:
            if ctx.active("cache-lock-contention"):
                async with lock:
                    await asyncio.sleep(HOLD_S)  # "compacting" while holding the lock
                await asyncio.sleep(PAUSE_S)
            else:
                await asyncio.sleep(0.2)

    async def locked_read(key: str) -> Any:
        started = time.perf_counter()
        with sdk.traced("cache.lock.wait", attributes={"lock.name": "shard-0"}) as span:
            await lock.acquire()
            span.set_attribute("lock.wait_ms", round((time.perf_counter() - started) * 1000, 3))
        try:
            return store.get(key)
        finally:
            lock.release()

    async def get(request: Request) -> Response:
        key = request.path_params["key"]
        span = trace.get_current_span()
        span.set_attribute("cache.key", key)
        if ctx.active("cache-lock-contention"):
            value = await locked_read(key)
        else:
            value = store.get(key)
        span.set_attribute("cache.hit", value is not None)
        if value is None:
            return JSONResponse({"hit": False})  # a miss is no error: no 404
        return JSONResponse({"hit": True, "value": value})

    async def put(request: Request) -> Response:
        store[request.path_params["key"]] = await request.json()
        return JSONResponse({"stored": True})

    return ServiceSpec(
        [
            Route("/cache/{key}", get, methods=["GET"]),
            Route("/cache/{key}", put, methods=["PUT"]),
        ],
        background=[janitor],
    )
