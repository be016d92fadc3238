"""What every shop service shares: config, the instrumented app, HTTP client and SQLite.

A service module exposes ``build(ctx) -> ServiceSpec``; `serve()` wires it to
`breadcrumbs.sdk.init`, the ASGI, httpx and sqlite3 instrumentations, and uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from breadcrumbs.demo.scenarios import ScenarioFile

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = [
    "CONFIG_ENV",
    "Database",
    "DownstreamError",
    "ServiceContext",
    "ServiceSpec",
    "ShopConfig",
    "serve",
    "untraced",
    "watch_parent",
]

CONFIG_ENV = "BREADCRUMBS_DEMO_CONFIG"
_CONVERTER = re.compile(r":[a-z]+}")
Background = Callable[["ServiceContext"], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ShopConfig:
    """Handed from the shop supervisor to each child as JSON in ``BREADCRUMBS_DEMO_CONFIG``."""

    peers: dict[str, str]
    state_dir: str
    otlp_endpoint: str | None = None
    protocol: str = "http/protobuf"

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_env(cls) -> ShopConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


class Database:
    """One SQLite connection per service; calls run in a worker thread so the loop keeps
    serving. The sqlite3 instrumentation is on, so every statement is a client span."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.setup("PRAGMA journal_mode=WAL")
        self.setup("PRAGMA busy_timeout=5000")
        self.setup("PRAGMA synchronous=NORMAL")  # a demo: speed over durability

    def execute_sync(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self._conn.cursor()  # the instrumentation traces cursors, not conn.execute
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()

    def setup(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Schema and seed statements: not part of any story, so no spans."""
        with untraced():
            return self.execute_sync(sql, params)

    def setup_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with untraced(), self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(sql, rows)
            self._conn.execute("COMMIT")

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # to_thread copies the contextvars, so the db span's parent is the caller's span.
        return await asyncio.to_thread(self.execute_sync, sql, params)

    def close(self) -> None:
        self._conn.close()


@dataclass
class ServiceContext:
    name: str
    config: ShopConfig
    scenarios: ScenarioFile
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))
    dbs: list[Database] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return Path(self.config.state_dir)

    def url(self, peer: str, path: str) -> str:
        return self.config.peers[peer] + path

    def db(self, filename: str) -> Database:
        database = Database(self.state_dir / filename)
        self.dbs.append(database)
        return database

    def active(self, scenario: str) -> bool:
        return scenario in self.scenarios

    async def call(
        self,
        method: str,
        peer: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """JSON over HTTP to another shop service; DownstreamError on any 4xx/5xx."""
        response = await self.http.request(method, self.url(peer, path), json=json, params=params)
        if response.status_code >= 400:
            raise DownstreamError(peer, response.status_code, response.text[:200])
        return response.json()


class DownstreamError(Exception):
    def __init__(self, peer: str, status: int, detail: str) -> None:
        super().__init__(f"{peer} answered {status}: {detail}")
        self.peer = peer
        self.status = status


@dataclass
class ServiceSpec:
    routes: Sequence[BaseRoute]
    background: list[Background] = field(default_factory=list)
    # Outermost ASGI middleware, before tracing sees the request (broken-propagation).
    wrap: Callable[[ASGIApp], ASGIApp] | None = None
    traced: bool = True


def route_namer(app: Starlette) -> Callable[[Scope], tuple[str, dict[str, Any]]]:
    """Server span names from the route template (``GET /points/{user_id}``), not the path."""

    def details(scope: Scope) -> tuple[str, dict[str, Any]]:
        method = str(scope.get("method", "HTTP"))
        for route in app.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and isinstance(route, Route):
                template = _CONVERTER.sub("}", route.path)  # /points/{user_id:int} -> {user_id}
                return f"{method} {template}", {"http.route": template}
        return method, {}

    return details


BAGGAGE_ATTRIBUTES = ("user.id",)


def baggage_to_attributes(span: Span, scope: Scope) -> None:
    """Copy the customer's id, set once by the gateway as W3C baggage, onto every server span."""
    from opentelemetry import baggage

    if span.is_recording():
        for key in BAGGAGE_ATTRIBUTES:
            value = baggage.get_baggage(key)
            if value is not None:
                span.set_attribute(key, str(value))


async def healthz(request: Request) -> Response:
    # The pid lets the supervisor tell its own service from another shop's on the port.
    return JSONResponse({"status": "ok", "pid": os.getpid()})


def build_app(ctx: ServiceContext, spec: ServiceSpec, on_stop: Callable[[], None]) -> ASGIApp:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(ctx)) for job in spec.background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.http.aclose()
            for database in ctx.dbs:
                database.close()
            on_stop()

    app = Starlette(routes=[*spec.routes, Route("/healthz", healthz)], lifespan=lifespan)
    wrapped: ASGIApp = app
    if spec.traced:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        wrapped = OpenTelemetryMiddleware(
            app,
            excluded_urls="/healthz,/control/",
            default_span_details=route_namer(app),
            server_request_hook=baggage_to_attributes,
            exclude_spans=["receive", "send"],
        )
    if spec.wrap is not None:
        wrapped = spec.wrap(wrapped)
    return wrapped


def _drop_request_tracebacks(record: logging.LogRecord) -> bool:
    """The injected faults fail requests all day; their stack traces are in the spans, so
    the service logs stay small. Start-up and other errors still get through."""
    return not record.getMessage().startswith("Exception in ASGI application")


def watch_parent() -> None:
    """Exit when the supervisor goes away, even by SIGKILL, so no service is orphaned.

    A watchdog thread rather than PR_SET_PDEATHSIG: that fires when the *thread* that
    started us exits, and a supervisor may start the shop from a short-lived thread."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful path: spans get flushed

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def serve(
    name: str, port: int, build: Callable[[ServiceContext], ServiceSpec], *, traced: bool = True
) -> None:
    """Run one service in this process until SIGTERM/SIGINT (or the parent's death)."""
    import uvicorn

    watch_parent()
    config = ShopConfig.from_env()
    scenarios = ScenarioFile(Path(config.state_dir) / "scenarios.json")
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if traced:
        # Stable semconv: http.request.method, url.path; db.query.text next to db.statement.
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database/dup")
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        from breadcrumbs import sdk

        telemetry = sdk.init(
            name,
            service_version="1.0.0",
            environment="demo",
            endpoint=config.otlp_endpoint,
            protocol="grpc" if config.protocol == "grpc" else "http/protobuf",
            resource_attributes={"shop.name": "kale smoothie shop"},
        )
        HTTPXClientInstrumentor().instrument()
        SQLite3Instrumentor().instrument()
        stop = telemetry.shutdown
    ctx = ServiceContext(name, config, scenarios)
    spec = build(ctx)
    spec.traced = traced
    app = build_app(ctx, spec, stop)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("uvicorn.error").addFilter(_drop_request_tracebacks)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
    )


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """No spans from the instrumentations inside: setup, polling, other non-stories."""
    from opentelemetry import context

    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        context.detach(token)


class StripTraceHeaders:
    """ASGI middleware that drops incoming trace context, as a misconfigured proxy would."""

    DROPPED = frozenset({b"traceparent", b"tracestate", b"baggage", b"b3", b"uber-trace-id"})

    def __init__(self, app: ASGIApp, enabled: Callable[[], bool]) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.enabled():
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in self.DROPPED]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
