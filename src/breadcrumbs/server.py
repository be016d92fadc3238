"""The wiring of one breadcrumbs process: every component, in one table, in one asyncio loop.

``Server.modules`` is the whole server (like Tempo's module map). Modules start top to bottom
and stop bottom to top:

- ``store`` first and last: everything reads or writes it. The engine comes from
  ``--store`` (``store.factory``); its own background work (``Store.maintain``: DuckDB's
  lookup merges and dependency counts) runs as one task while it is open.
- ``http`` (UI, Jaeger API, /healthz, /readyz, /metrics) starts before the WAL replay so
  ``/readyz`` can answer 503 "replaying WAL" meanwhile, and stops after the pipeline flushed
  so health checks keep answering during the drain.
- ``pipeline`` start replays the WAL; its stop drains and flushes it into the store.
- ``decoding``: the decode worker processes (``--decode-workers``), before the receivers that
  send them bodies and stopped after them.
- the receivers start only once the pipeline accepts, and stop first on shutdown: they stop
  accepting, finish in-flight requests (whose acks need the pipeline), then close.
- ``sampling``: Jaeger's remote sampling HTTP port (5778) for SDKs; the same strategies are
  also served on the main port (``/api/sampling``) and over gRPC beside OTLP. They come from
  ``sampling_provider``: a strategies file, adaptive rates (fed by the root throughput stage
  of the pipeline), or one default probability.
- ``retention``: a background task deleting aged-out spans.
- ``demo`` (``--demo``): the kale smoothie shop and its traffic, sending to our OTLP/HTTP port.

SIGTERM/SIGINT run the stops in order and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import uvicorn
from rich.console import Console
from rich.table import Table
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from breadcrumbs import __version__, heap
from breadcrumbs.api import doctor as doctor_api
from breadcrumbs.api import explain as explain_api
from breadcrumbs.api import export as export_api
from breadcrumbs.api import home as home_api
from breadcrumbs.api import jaeger as jaeger_api
from breadcrumbs.api import native_trace as native_trace_api
from breadcrumbs.api import ops as ops_api
from breadcrumbs.api import red as red_api
from breadcrumbs.api import sampling as sampling_api
from breadcrumbs.api import sampling_grpc
from breadcrumbs.api import search as search_api
from breadcrumbs.api import why as why_api
from breadcrumbs.api import zipkin as zipkin_api
from breadcrumbs.api.disconnect import CancelOnDisconnect
from breadcrumbs.codec import otlp, zipkin_native
from breadcrumbs.config import Settings
from breadcrumbs.errors import ReadOnlyStore
from breadcrumbs.pipeline.exposition import (
    GRAPH_BOUNDS_S,
    ServiceGraphExposition,
    SpanMetricsExposition,
)
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.retention import Retention
from breadcrumbs.pipeline.root_throughput import RootThroughputStage
from breadcrumbs.pipeline.span_metrics import SpanMetricsStage
from breadcrumbs.pipeline.stages import Stage
from breadcrumbs.pipeline.tail_sampler import TailSampler
from breadcrumbs.query.service import QueryBounds, QueryService
from breadcrumbs.receivers import otlp_grpc, otlp_http
from breadcrumbs.receivers import zipkin as zipkin_receiver
from breadcrumbs.receivers.common import ReceiverContext, ReceiverLimits
from breadcrumbs.receivers.decoding import Decoding, InProcessDecoding, decoding
from breadcrumbs.sampling import strategies_file
from breadcrumbs.sampling.adaptive import AdaptiveRates, AdaptiveSettings
from breadcrumbs.sampling.strategy import FixedStrategy, StrategyProvider, probabilistic
from breadcrumbs.sampling.tail import config as tail_sampling
from breadcrumbs.sampling.tail.metrics import TailSamplingMetrics
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import Capability, ServiceGraphQuery, Store
from breadcrumbs.store.factory import ReadLimits, open_store
from breadcrumbs.store.url import parse_store_url

log = logging.getLogger("breadcrumbs.server")

DRAIN_TIMEOUT_S = 10.0  # longest wait for in-flight requests on shutdown
_EDGE_INTERVAL_S = 15.0  # service-graph edge metrics: how often a settled stretch is added
_EDGE_SETTLE_NS = 75 * 10**9  # the dependency horizon (60 s) plus the flush and a margin
_EDGE_BOUNDS_NS = tuple(round(b * 1e9) for b in GRAPH_BOUNDS_S)


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handlers: this process has several servers and one
    shutdown sequence."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


Step = Callable[[], Awaitable[None]]


class Module(NamedTuple):
    """One row of the wiring table."""

    name: str
    start: Step
    stop: Step
    enabled: bool = True


@dataclass
class Listener:
    """One listening port, for the banner and readiness."""

    name: str
    port: int
    url: str
    listening: bool = False


@dataclass
class Server:
    """One breadcrumbs process. ``await Server(settings).run()`` serves until ``stop()``."""

    settings: Settings
    metrics: SelfMetrics = field(default_factory=SelfMetrics)
    store: Store | None = None
    pipeline: IngestPipeline | None = None
    query: QueryService | None = None
    retention: Retention | None = None
    decoding: Decoding = field(default_factory=InProcessDecoding)
    listeners: dict[str, Listener] = field(default_factory=dict)
    _http: dict[str, tuple[_HttpServer, asyncio.Task[None]]] = field(default_factory=dict)
    _grpc: grpc.aio.Server | None = None
    _shop: Any = None  # breadcrumbs.demo.shop.Shop when --demo
    _demo_task: asyncio.Task[None] | None = None
    _maintenance: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    span_metrics_exposition: SpanMetricsExposition = field(default_factory=SpanMetricsExposition)
    service_graph_exposition: ServiceGraphExposition = field(default_factory=ServiceGraphExposition)
    _service_graph: asyncio.Task[None] | None = None
    sampling: StrategyProvider = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.registry.register(self.span_metrics_exposition)
        self.metrics.registry.register(self.service_graph_exposition)
        self.sampling = sampling_provider(self.settings)

    # --- the table ---------------------------------------------------------------------------

    @property
    def modules(self) -> list[Module]:
        """The enabled modules in start order; see the module docstring for why this order."""
        s = self.settings
        # A read-only store (the Collector's tables) takes no spans: no receiver, no retention.
        ingest = not parse_store_url(s.store).read_only
        table = [
            Module("store", self._start_store, self._stop_store),
            Module("http", self._start_main_http, self._stop("http"), s.http_port != 0),
            Module("pipeline", self._start_pipeline, self._stop_pipeline),
            Module("decoding", self._start_decoding, self._stop_decoding),
            Module(
                "otlp-grpc",
                self._start_otlp_grpc,
                self._stop_otlp_grpc,
                ingest and s.otlp_grpc_port != 0,
            ),
            Module(
                "otlp-http",
                self._start_otlp_http,
                self._stop("otlp-http"),
                ingest and s.otlp_http_port != 0,
            ),
            Module("zipkin", self._start_zipkin, self._stop("zipkin"), s.zipkin_port != 0),
            Module("sampling", self._start_sampling, self._stop("sampling"), s.sampling_port != 0),
            Module(
                "retention", self._start_retention, self._stop_retention, ingest and s.retention > 0
            ),
            Module(
                "demo",
                self._start_demo,
                self._stop_demo,
                ingest and s.demo and s.otlp_http_port != 0,
            ),
        ]
        return [module for module in table if module.enabled]

    # --- life cycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Start every module, serve until ``stop()`` (or SIGTERM/SIGINT), then stop them."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        started: list[Module] = []
        try:
            for module in self.modules:
                if self._stopping.is_set():
                    break
                log.debug("starting %s", module.name)
                await module.start()
                started.append(module)
            if not self._stopping.is_set():
                print_banner(self)
                await self._stopping.wait()
            log.info("shutting down")
        finally:
            for module in reversed(started):
                try:
                    await module.stop()
                except Exception:
                    log.exception("stopping %s failed", module.name)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        log.info("stopped")

    def stop(self) -> None:
        self._stopping.set()

    def not_ready(self) -> str | None:
        """None once the WAL is replayed and every enabled port listens, else why not."""
        if self.pipeline is None or not self.pipeline.ready:
            return "replaying WAL"
        for listener in self.listeners.values():
            if not listener.listening:
                return f"{listener.name} not listening yet"
        return None

    # --- modules -----------------------------------------------------------------------------

    async def _start_store(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        self.store = await open_store(
            s.store,
            s.data_dir,
            self.metrics,
            retention_s=s.retention,
            reads=ReadLimits(
                timeout_s=s.query_timeout,
                threads=s.query_threads,
                ingest_behind=self._ingest_behind,
            ),
        )
        self.query = QueryService(
            self.store,
            bounds=QueryBounds(
                max_window_ns=round(s.max_query_window * 1e9), max_traces=s.max_query_traces
            ),
        )
        self._maintenance = asyncio.create_task(self._maintain(self.store), name="store-maintain")
        if self.store.capabilities.has(Capability.SERVICE_GRAPH):
            self._service_graph = asyncio.create_task(self._count_edges(), name="service-graph")

    async def _count_edges(self) -> None:
        """Service-graph edge metrics for /metrics: each stretch of time once it has settled
        (every span of a call within the dependency horizon has arrived), from this start on."""
        assert self.store is not None
        cursor = time.time_ns()
        while True:
            await asyncio.sleep(_EDGE_INTERVAL_S)
            settled = time.time_ns() - _EDGE_SETTLE_NS
            if settled <= cursor:
                continue
            try:
                edges = await self.store.service_graph(
                    ServiceGraphQuery(cursor, settled, _EDGE_BOUNDS_NS)
                )
            except Exception:
                log.exception("service graph metrics: reading edges failed; trying again")
                continue
            self.service_graph_exposition.add(edges)
            cursor = settled

    @staticmethod
    async def _maintain(store: Store) -> None:
        try:
            await store.maintain()
        except Exception:  # the store still serves; only its background work stopped
            log.exception("the store's background maintenance stopped")

    async def _stop_store(self) -> None:
        for task in (self._maintenance, self._service_graph):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.query is not None:
            self.query.close()
        if self.store is not None:
            await self.store.close()

    async def _start_pipeline(self) -> None:
        assert self.store is not None
        s = self.settings
        stages: list[Stage] = []
        if self.store.capabilities.has(Capability.SPAN_METRICS):  # an engine may not keep RED
            stages.append(
                SpanMetricsStage(
                    self.store,
                    max_series=s.max_metric_series,
                    exposition=self.span_metrics_exposition,
                    metrics=self.metrics,
                )
            )
        if isinstance(self.sampling, AdaptiveRates):  # before a tail sampler drops any root
            stages.append(
                RootThroughputStage(
                    self.sampling, interval_s=s.sampling_interval, max_age_s=2 * s.sampling_interval
                )
            )
        # After span metrics: RED counts every span before the sampler drops any.
        sampling = tail_sampling.from_settings(s.tail_sampling_rate, s.tail_sampling_policy)
        if sampling is not None:
            stages.append(TailSampler(sampling, metrics=TailSamplingMetrics(self.metrics.registry)))
        self.pipeline = IngestPipeline(
            s.data_dir,
            self.store,
            PipelineSettings(
                flush_interval_s=s.flush_interval, max_unflushed_spans=s.max_unflushed_spans
            ),
            self.metrics,
            stages=stages,
        )
        await self.pipeline.start()

    def _ingest_behind(self) -> bool:
        return self.pipeline is not None and self.pipeline.behind()

    async def _stop_pipeline(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.stop()

    async def _start_decoding(self) -> None:
        # Starting the forkserver blocks for a moment: not on the event loop.
        workers = self.settings.decode_worker_count
        self.decoding = await asyncio.to_thread(decoding, workers, self.metrics)

    async def _stop_decoding(self) -> None:
        await asyncio.to_thread(self.decoding.close)

    async def _start_retention(self) -> None:
        assert self.store is not None
        self.retention = Retention(self.store, self.metrics, retention_s=self.settings.retention)
        self.retention.start()

    async def _stop_retention(self) -> None:
        if self.retention is not None:
            await self.retention.stop()

    async def _start_demo(self) -> None:
        """Spawn the shop now; wait for its health and start traffic in the background, so
        neither a slow nor a broken demo holds up (or takes down) the server."""
        endpoint = f"http://127.0.0.1:{self.listeners['otlp-http'].port}"
        try:
            from breadcrumbs.demo.shop import head_sampling_env, start_shop  # the `demo` extra

            sampling_url = self._sampling_url()
            env = head_sampling_env(sampling_url) if sampling_url else None
            self._shop = start_shop(otlp_endpoint=endpoint, wait=False, env=env)
        except Exception:
            log.exception("demo shop could not start (tracing goes on)")
            return
        self.listeners["demo"] = Listener("Demo shop", 0, self._shop.gateway_url, True)
        self._demo_task = asyncio.create_task(self._demo_traffic(), name="demo")

    def _sampling_url(self) -> str | None:
        """Where the demo shop fetches head-sampling strategies: only when breadcrumbs has
        some to serve (a strategies file or adaptive rates)."""
        s = self.settings
        if not (s.sampling_adaptive or s.sampling_strategies):
            return None
        if (sampling := self.listeners.get("sampling")) is not None:
            return f"http://127.0.0.1:{sampling.port}/sampling"
        if (http := self.listeners.get("http")) is not None:
            return f"http://127.0.0.1:{http.port}/api/sampling"
        return None

    async def _demo_traffic(self) -> None:
        from breadcrumbs.demo.shop import READY_TIMEOUT_S, ShopError

        shop = self._shop
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._stopping.is_set():
            try:  # in short waits, so a shutdown is never held up for long
                await asyncio.to_thread(shop.wait_ready, 1.0)
            except ShopError as error:
                if shop.exited() or time.monotonic() > deadline:
                    log.error("demo shop failed to start (tracing goes on): %s", error)
                    return
            else:
                shop.start_load()
                log.info("demo shop serving at %s, with traffic", shop.gateway_url)
                return

    async def _stop_demo(self) -> None:
        if self._demo_task is not None:
            await self._demo_task
        if self._shop is not None:
            await asyncio.to_thread(self._shop.stop_load)
            await asyncio.to_thread(self._shop.stop)

    def _receiver_context(self) -> ReceiverContext:
        assert self.pipeline is not None
        s = self.settings
        return ReceiverContext(
            consumer=self.pipeline,
            limits=ReceiverLimits(
                request_bytes=s.max_request_bytes,
                decompressed_bytes=s.max_decompressed_bytes,
                decode=s.decode_limits,
            ),
            metrics=self.metrics,
            decoding=self.decoding,
            otlp_proto=otlp.proto_decoder(s.decoder)[1],
            otlp_json=otlp.json_decoder(s.decoder)[1],
            zipkin_json=zipkin_native.json_decoder(s.decoder)[1],
        )

    async def _start_main_http(self) -> None:
        assert self.query is not None
        routes: list[BaseRoute] = [
            *ops_api.routes(
                self.not_ready, self.metrics, self._refresh_store_gauges, ports=self._ports
            ),
            *jaeger_api.routes(self.query),
            *explain_api.routes(self.query),
            *why_api.routes(self.query),
            *doctor_api.routes(self.query, value_limit=self.settings.max_value_length),
            *red_api.routes(self.query.reader),
            *export_api.routes(self.query.reader),
            *native_trace_api.routes(self.query),
            *search_api.routes(self.query),
            *sampling_api.routes(self.sampling),
            *home_api.routes(),  # last: its /api/ catch-all answers unknown API paths
        ]
        await self._serve_http(
            "http", "UI, Jaeger API", self.settings.http_port, _query_app(routes)
        )

    async def _start_otlp_http(self) -> None:
        app = otlp_http.app(self._receiver_context())
        await self._serve_http(
            "otlp-http", "OTLP HTTP", self.settings.otlp_http_port, app, "/v1/traces"
        )

    async def _start_zipkin(self) -> None:
        assert self.query is not None
        if parse_store_url(self.settings.store).read_only:
            receiving: list[BaseRoute] = [Route("/api/v2/spans", _read_only, methods=["POST"])]
        else:
            receiving = zipkin_receiver.routes(self._receiver_context())
        routes = [*receiving, *zipkin_api.routes(self.query)]
        await self._serve_http("zipkin", "Zipkin", self.settings.zipkin_port, _query_app(routes))

    async def _start_sampling(self) -> None:
        app = Starlette(routes=sampling_api.routes(self.sampling, sampling_api.SAMPLING_PORT_PATHS))
        await self._serve_http(
            "sampling", "Sampling", self.settings.sampling_port, app, "/sampling?service="
        )

    async def _start_otlp_grpc(self) -> None:
        s = self.settings
        server, port = otlp_grpc.server(self._receiver_context(), s.host, s.otlp_grpc_port)
        server.add_generic_rpc_handlers((sampling_grpc.handler(self.sampling),))
        await server.start()
        self._grpc = server
        self.listeners["otlp-grpc"] = Listener(
            "OTLP gRPC", port, f"{_display_host(s.host)}:{port}", True
        )

    async def _stop_otlp_grpc(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace=DRAIN_TIMEOUT_S)

    async def _serve_http(self, key: str, name: str, port: int, app: Any, path: str = "") -> None:
        host = self.settings.host
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(DRAIN_TIMEOUT_S),
            server_header=False,
        )
        server = _HttpServer(config)
        listener = Listener(name, bound, f"http://{_display_host(host)}:{bound}{path}")
        self.listeners[key] = listener
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn-{key}")
        self._http[key] = (server, task)
        while not server.started:  # bounded: the task ends on a startup failure
            if task.done():
                task.result()
                raise OSError(f"{name} server on port {bound} did not start")
            await asyncio.sleep(0.01)
        listener.listening = True

    def _ports(self) -> dict[str, int]:
        return {
            key: found.port
            for key, found in self.listeners.items()
            if found.listening and found.port
        }

    def _stop(self, key: str) -> Step:
        async def stop() -> None:
            entry = self._http.pop(key, None)
            if entry is None:
                return
            server, task = entry
            server.should_exit = True
            await task

        return stop

    # --- small endpoints ---------------------------------------------------------------------

    async def _refresh_store_gauges(self) -> None:
        assert self.store is not None
        stats = await self.store.stats()
        self.metrics.store_spans.set(stats.spans)
        self.metrics.store_bytes.set(stats.bytes_on_disk)


def sampling_provider(settings: Settings) -> StrategyProvider:
    """The head-sampling strategies served to SDKs: a file, adaptive rates, or a default."""
    s = settings
    if s.sampling_strategies:
        path = Path(s.sampling_strategies)
        return strategies_file.ReloadingStrategies(path, s.sampling_default_probability)
    if s.sampling_adaptive:
        return AdaptiveRates(
            AdaptiveSettings(
                target_tps=s.sampling_target_tps,
                min_probability=s.sampling_min_probability,
                max_probability=s.sampling_max_probability,
                default_probability=s.sampling_default_probability,
            )
        )
    return FixedStrategy(probabilistic(s.sampling_default_probability))


def sampling_summary(settings: Settings) -> str:
    s = settings
    if s.sampling_strategies:
        return f"strategies from {s.sampling_strategies}"
    if s.sampling_adaptive:
        return (
            f"adaptive, {s.sampling_target_tps:g} traces/s per operation "
            f"(p {s.sampling_min_probability:g} to {s.sampling_max_probability:g})"
        )
    return f"p = {s.sampling_default_probability:g} served to every SDK that asks"


async def _read_only(request: Request) -> Response:
    """Zipkin's span intake on a read-only store: refused, as the OTLP ports are off."""
    error = ReadOnlyStore(
        "this breadcrumbs reads the OpenTelemetry Collector's tables (layout=otel) and stores "
        "no spans: send them to the Collector"
    )
    return PlainTextResponse(error.message, status_code=error.http_status)


def _query_app(routes: Sequence[BaseRoute]) -> Starlette:
    """An app of query routes whose handlers stop (and their store reads with them) when
    the client goes away."""
    return Starlette(routes=routes, middleware=[Middleware(CancelOnDisconnect)])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, so a busy port fails here with a clear error (uvicorn would
    ``sys.exit`` from inside its task)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every keep-alive response waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", "127.0.0.1"):
        return "localhost"
    return f"[{host}]" if ":" in host else host


def tail_sampling_summary(settings: Settings) -> str:
    s = settings
    if s.tail_sampling_policy:
        return f"sampling by the policies in {s.tail_sampling_policy}"
    if s.tail_sampling_rate >= 1:
        return "every trace kept (--tail-sampling-rate 1)"
    return f"every error and slow trace, {s.tail_sampling_rate:.0%} of the rest"


def print_banner(server: Server) -> None:
    """One screen of where everything listens: a rich table on a TTY, plain lines otherwise."""
    s = server.settings
    rows = [(listener.name, listener.url) for listener in server.listeners.values()]
    if "http" in server.listeners:
        rows.append(("Metrics", server.listeners["http"].url + "/metrics"))
    rows.append(("Data dir", str(s.data_dir.resolve())))
    store = parse_store_url(s.store)
    if store.read_only:
        rows.append(("Store", f"{store.redacted()} (read-only)"))
        rows.append(("Ingest", f"off: the OpenTelemetry Collector writes {store.table}"))
    else:
        rows.append(("Store", store.redacted()))
        rows.append(("Retention", _human_duration(s.retention)))
    rows.append(("Head sampling", sampling_summary(s)))
    if not store.read_only:  # what happens to spans arriving here: none arrive
        rows.append(("Tail sampling", tail_sampling_summary(s)))
        rows.append(("Decoding", decoding_summary(s.decoder, s.decode_worker_count)))
    console = Console(stderr=True)
    if console.is_terminal:
        table = Table(title=f"breadcrumbs {__version__}", show_header=False, box=None)
        table.add_column(style="bold cyan")
        table.add_column()
        for name, value in rows:
            table.add_row(name, value)
        console.print(table)
    else:
        width = max(len(name) for name, _ in rows)
        lines = [f"breadcrumbs {__version__} ready"] + [f"  {n:<{width}}  {v}" for n, v in rows]
        print("\n".join(lines), file=sys.stderr, flush=True)


def decoding_summary(decoder: str, workers: int) -> str:
    """``native, in the server`` / ``python (native decoder not built), 2 worker processes``."""
    name = otlp.proto_decoder(decoder)[0]
    if name == "python" and decoder == "auto":
        name = "python (native decoder not built: no Rust toolchain at install)"
    where = f"{workers} worker process{'es' * (workers != 1)}" if workers else "in the server"
    return f"{name}, {where}"


def _human_duration(seconds: float) -> str:
    if seconds <= 0:
        return "forever"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def configure_logging(level: str) -> None:
    console = Console(stderr=True)
    handler: logging.Handler
    if console.is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own startup chatter repeats what the banner says.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))  # a line per request


def serve(settings: Settings) -> None:
    """Run a server in this process until SIGTERM/SIGINT."""
    configure_logging(settings.log_level)
    heap.map_large_chunks()
    asyncio.run(Server(settings).run())
