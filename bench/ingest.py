"""Sustained OTLP ingest into a real ``breadcrumbs serve``, against the floor of the same run.

Starts ``breadcrumbs serve`` on a temp dir, pre-encodes a pool of distinct, realistic
ExportTraceServiceRequests (1000 spans, 8-10 attributes each), then runs 4 concurrent clients
that each send a request and wait for its ack, for ``--seconds`` per transport (OTLP/HTTP with
httpx, OTLP/gRPC with the grpc stub). Reports sustained spans/s, ack latency p50/p99, server CPU
seconds per million spans (``/proc/<pid>/stat``) and peak RSS (``VmHWM``), both summed over the
server's process tree (its decode workers included).

The floor: the same clients against a tiny receiver on the same frameworks (uvicorn, grpc.aio)
that only parses each request (``ParseFromString``) and acks. The ratio says what breadcrumbs'
decode, WAL fsync and store cost on top of just receiving.

``--query-load``: each breadcrumbs run is repeated on a fresh data dir with 4 more clients
that, meanwhile, search through the Jaeger HTTP API (a service, half of the time with a tag
and a minimum duration, 20 traces over the last hour) and fetch one found trace by id, each
waiting for its answer before the next. Ingest under that load is reported as a ratio to the
run without it, beside the queries' own latency.

    python bench/ingest.py                 # 60 s per run, 4 runs
    python bench/ingest.py --seconds 10 --transports http
    python bench/ingest.py --seconds 30 --transports http --no-floor --query-load
    python bench/ingest.py --seconds 30 --peers jaeger-memory,jaeger-badger,zipkin

``--peers``: instead of the runs above, breadcrumbs and its peers side by side on unique
requests (``bench/peer_ingest.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from breadcrumbs import procfs

SPANS_PER_REQUEST = 1000
CLIENTS = 4
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SERVICES = ["frontend", "cart", "checkout", "payment", "inventory", "shipping", "user", "search"]
ROUTES = ["/api/cart/{id}", "/api/checkout", "/api/items/{id}", "/api/v2/search", "/api/user/me"]


# --- requests ------------------------------------------------------------------------------


def _kv(key: str, value: str | int | float | bool) -> common_pb2.KeyValue:
    if isinstance(value, bool):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(bool_value=value))
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    if isinstance(value, float):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(double_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _attributes(rng: random.Random, service: str, kind: int) -> list[common_pb2.KeyValue]:
    route = rng.choice(ROUTES)
    attrs: list[tuple[str, str | int | float | bool]] = [
        ("http.request.method", rng.choice(["GET", "GET", "POST", "PUT"])),
        ("http.route", route),
        # High-cardinality values as in production (an id per request, many users): with the
        # pool replayed, fewer distinct values would let the decoder's attribute cache flatter.
        ("url.path", route.replace("{id}", str(rng.randrange(10**9)))),
        ("http.response.status_code", rng.choice([200] * 30 + [201, 404, 500])),
        ("server.address", f"{service}.shop.svc"),
        ("server.port", 8080),
        ("user.id", f"u{rng.randrange(1_000_000)}"),
        ("app.order.id", f"ord-{rng.randrange(10**12):012d}"),
        ("app.cart.items", rng.randrange(1, 12)),
    ]
    if kind == trace_pb2.Span.SPAN_KIND_CLIENT:
        attrs.append(("peer.service", rng.choice(SERVICES)))
    if rng.random() < 0.5:
        attrs.append(("app.cache.hit", rng.random() < 0.7))
    return [_kv(key, value) for key, value in attrs]


def make_request(rng: random.Random, now_ns: int) -> bytes:
    """1000 spans: traces of 10 spans spread over the services (one resource per service)."""
    by_service: dict[str, list[trace_pb2.Span]] = {service: [] for service in SERVICES}
    for _ in range(SPANS_PER_REQUEST // 10):
        trace_id = rng.randbytes(16)
        start = now_ns - rng.randrange(60_000_000_000)
        parents: list[bytes] = []
        for i in range(10):
            service = SERVICES[0] if i == 0 else rng.choice(SERVICES[1:])
            kind = (
                trace_pb2.Span.SPAN_KIND_SERVER if i % 2 == 0 else trace_pb2.Span.SPAN_KIND_CLIENT
            )
            span_id = rng.randbytes(8)
            begin = start + i * 1_000_000
            span = trace_pb2.Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=rng.choice(parents) if parents else b"",
                name=f"{rng.choice(['GET', 'POST'])} {rng.choice(ROUTES)}",
                kind=kind,
                start_time_unix_nano=begin,
                end_time_unix_nano=begin + rng.randrange(100_000, 50_000_000),
                attributes=_attributes(rng, service, kind),
            )
            if rng.random() < 0.02:
                span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
                span.events.add(
                    time_unix_nano=begin + 1000,
                    name="exception",
                    attributes=[_kv("exception.type", "TimeoutError")],
                )
            parents.append(span_id)
            by_service[service].append(span)
    request = trace_service_pb2.ExportTraceServiceRequest()
    for service, spans in by_service.items():
        resource_spans = request.resource_spans.add(
            resource=resource_pb2.Resource(
                attributes=[
                    _kv("service.name", service),
                    _kv("service.version", "1.4.2"),
                    _kv("host.name", f"{service}-7d9f-{rng.randrange(3)}"),
                    _kv("telemetry.sdk.language", "python"),
                ]
            )
        )
        resource_spans.scope_spans.add(
            scope=common_pb2.InstrumentationScope(name="opentelemetry.instrumentation.asgi")
        ).spans.extend(spans)
    return bytes(request.SerializeToString())


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    name: str
    proc: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    ready_url: str

    @property
    def query_url(self) -> str:
        return self.ready_url.removesuffix("/readyz")

    def processes(self) -> list[int]:
        """The server and every process under it (its decode workers included)."""
        return [self.proc.pid, *procfs.descendants(self.proc.pid)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):  # gone meanwhile
                total += procfs.cpu_seconds(pid)
        return total

    def peak_rss_mib(self) -> float:
        """Peak RSS summed over the process tree (an upper bound: peaks need not coincide)."""
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                total += procfs.kib(pid, "status", "VmHWM")
        return total / 1024

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                if httpx.get(self.ready_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_breadcrumbs(data_dir: Path, log: Path, decode_workers: str) -> Target:
    ports = {name: free_port() for name in ("http", "otlp-http", "otlp-grpc", "zipkin", "sampling")}
    args = [sys.executable, "-c", "from breadcrumbs.cli import app; app()", "serve"]
    args += ["--data-dir", str(data_dir), "--host", "127.0.0.1", "--log-level", "warning"]
    args += ["--decode-workers", decode_workers]
    args += [f"--{name}-port={port}" for name, port in ports.items()]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    target = Target(
        "breadcrumbs",
        proc,
        ports["otlp-http"],
        ports["otlp-grpc"],
        f"http://127.0.0.1:{ports['http']}/readyz",
    )
    target.wait_ready()
    return target


def start_floor() -> Target:
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--floor-server", str(http_port), str(grpc_port)]
    )
    target = Target("floor", proc, http_port, grpc_port, f"http://127.0.0.1:{http_port}/readyz")
    target.wait_ready()
    return target


async def floor_server(http_port: int, grpc_port: int) -> None:
    """Parse and ack, nothing else: the cost of receiving on these frameworks."""
    import uvicorn
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    empty = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()

    async def traces(request: Request) -> Response:
        trace_service_pb2.ExportTraceServiceRequest().ParseFromString(await request.body())
        return Response(empty, media_type="application/x-protobuf")

    async def ready(request: Request) -> Response:
        return Response("ready")

    class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(
            self, request: object, context: object
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
    add_servicer = trace_service_pb2_grpc.add_TraceServiceServicer_to_server
    add_servicer(Servicer(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()
    app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/readyz", ready)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=http_port, access_log=False, log_level="warning"
    )
    await uvicorn.Server(config).serve()
    await server.stop(1)


# --- clients -------------------------------------------------------------------------------


@dataclass
class Result:
    spans: int
    seconds: float
    latencies: list[float]
    refused: int
    cpu_s: float
    queries: QueryResult | None = None

    @property
    def rate(self) -> float:
        return self.spans / self.seconds

    def quantile(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q * 100) - 1] * 1000


@dataclass
class QueryResult:
    searches: list[float]
    fetches: list[float]
    failed: Counter[str]

    def line(self) -> str:
        def figures(latencies: list[float]) -> str:
            if len(latencies) < 2:
                return f"{len(latencies)}"
            cuts = statistics.quantiles(latencies, n=100)
            return f"{len(latencies)}, p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms"

        failed = ", ".join(f"{n}x {why}" for why, n in self.failed.items()) or "none"
        return (
            f"  query load: searches {figures(self.searches)}; trace fetches "
            f"{figures(self.fetches)}; failed: {failed}"
        )


def _why(response: httpx.Response) -> str:
    """A server error's message, so a failed query in a run says what failed."""
    if response.status_code < 500:
        return ""
    try:
        errors = response.json().get("errors") or [{}]
        return f" ({str(errors[0].get('msg', ''))[:160]})"
    except ValueError:
        return f" ({response.text[:160]})"


async def run_queries(target: Target, deadline: float) -> QueryResult:
    """``CLIENTS`` clients searching and fetching traces through the Jaeger API until the
    deadline, each waiting for its answer."""
    result = QueryResult([], [], Counter())
    url = target.query_url

    async def client(index: int) -> None:
        rng = random.Random(index)
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while time.monotonic() < deadline:
                params: dict[str, str] = {
                    "service": rng.choice(SERVICES),
                    "limit": "20",
                    "lookback": "1h",
                }
                if rng.random() < 0.5:
                    params["tag"] = "http.response.status_code:500"
                    params["minDuration"] = "10ms"
                began = time.perf_counter()
                response = await http.get("/api/traces", params=params)
                if response.status_code != 200:
                    result.failed[f"search HTTP {response.status_code}{_why(response)}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                result.searches.append(time.perf_counter() - began)
                found = response.json()["data"]
                if not found:
                    await asyncio.sleep(0.1)  # an empty store at the start
                    continue
                began = time.perf_counter()
                response = await http.get(f"/api/traces/{rng.choice(found)['traceID']}")
                if response.status_code != 200:
                    result.failed[f"trace HTTP {response.status_code}{_why(response)}"] += 1
                    continue
                result.fetches.append(time.perf_counter() - began)

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return result


async def run_clients(
    target: Target, transport: str, pool: list[bytes], seconds: float, *, query_load: bool = False
) -> Result:
    latencies: list[float] = []
    refused = 0
    reasons: Counter[str] = Counter()
    done = 0
    deadline = time.monotonic() + seconds

    async def http_client(index: int) -> None:
        nonlocal refused, done
        url = f"http://127.0.0.1:{target.http_port}/v1/traces"
        headers = {"Content-Type": "application/x-protobuf"}
        async with httpx.AsyncClient(timeout=60) as client:
            i = index
            while time.monotonic() < deadline:
                began = time.perf_counter()
                response = await client.post(url, content=pool[i % len(pool)], headers=headers)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                    done += 1
                else:
                    refused += 1
                    reasons[f"HTTP {response.status_code}"] += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                i += CLIENTS

    async def grpc_client(index: int) -> None:
        nonlocal refused, done
        async with grpc.aio.insecure_channel(f"127.0.0.1:{target.grpc_port}") as channel:
            export = channel.unary_unary(EXPORT)  # raw bytes in and out: no client re-encode
            i = index
            while time.monotonic() < deadline:
                began = time.perf_counter()
                try:
                    await export(pool[i % len(pool)], timeout=60)
                except grpc.aio.AioRpcError as error:
                    refused += 1
                    reasons[f"{error.code().name}: {error.details()}"] += 1
                    await asyncio.sleep(1)
                else:
                    latencies.append(time.perf_counter() - began)
                    done += 1
                i += CLIENTS

    client = http_client if transport == "http" else grpc_client
    cpu_before = target.cpu_seconds()
    began = time.monotonic()
    queries = asyncio.gather(run_queries(target, deadline)) if query_load else None
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    elapsed = time.monotonic() - began
    query_result = (await queries)[0] if queries is not None else None
    for reason, count in reasons.items():
        print(f"  refused {count}x: {reason}", flush=True)
    return Result(
        done * SPANS_PER_REQUEST,
        elapsed,
        latencies,
        refused,
        target.cpu_seconds() - cpu_before,
        query_result,
    )


def metric(http_url: str, name: str) -> float:
    for line in httpx.get(http_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def unflushed_spans(http_url: str) -> float:
    return metric(http_url, "breadcrumbs_wal_unflushed_spans")


def pipeline_figures(http_url: str) -> str:
    """Mean WAL group commit and store flush, from the server's own histograms."""
    parts = []
    for label, name in (
        ("WAL fsync", "breadcrumbs_wal_fsync_duration_seconds"),
        ("group records", "breadcrumbs_wal_group_commit_records"),
        ("store flush", "breadcrumbs_store_flush_duration_seconds"),
    ):
        count = metric(http_url, name + "_count")
        mean = metric(http_url, name + "_sum") / count if count else float("nan")
        shown = f"{mean * 1000:.1f} ms" if name.endswith("seconds") else f"{mean:.1f}"
        parts.append(f"{label} mean {shown} (n={count:.0f})")
    return ", ".join(parts)


def report(name: str, transport: str, result: Result, rss: float) -> str:
    cpu_per_million = result.cpu_s / (result.spans / 1e6) if result.spans else float("nan")
    return (
        f"| {name} | {transport} | {result.rate:,.0f} | {result.quantile(0.5):.1f} | "
        f"{result.quantile(0.99):.1f} | {cpu_per_million:.1f} | {rss:.0f} | {result.refused} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per run")
    parser.add_argument("--pool", type=int, default=32, help="distinct pre-encoded requests")
    parser.add_argument("--transports", default="http,grpc")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor runs")
    parser.add_argument(
        "--decode-workers",
        default="auto",
        help="the server's --decode-workers; several, comma-separated, run one after another",
    )
    parser.add_argument(
        "--query-load",
        action="store_true",
        help="repeat each breadcrumbs run with 4 clients searching and fetching traces",
    )
    parser.add_argument(
        "--peers",
        default="",
        help="run breadcrumbs beside these instead: jaeger-memory,jaeger-badger,zipkin "
        "(bench/peer_ingest.py; Jaeger is built on first use, ~12 minutes)",
    )
    parser.add_argument("--floor-server", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        asyncio.run(floor_server(*args.floor_server))
        return

    rng = random.Random(7)
    now = time.time_ns()
    began = time.perf_counter()
    pool = [make_request(rng, now) for _ in range(args.pool)]
    size = statistics.mean(len(body) for body in pool)
    print(
        f"pool: {len(pool)} requests of {SPANS_PER_REQUEST} spans, {size / 1024:.0f} KiB each, "
        f"built in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    transports = args.transports.split(",")
    if args.peers:
        from peer_ingest import side_by_side

        side_by_side(args.peers.split(","), transports, pool, args.seconds, args.decode_workers)
        return
    rows = []
    ratios: list[tuple[str, float, str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for transport in transports:
            floor_result = None
            if not args.no_floor:
                floor = start_floor()
                try:
                    floor_result = asyncio.run(run_clients(floor, transport, pool, args.seconds))
                    rows.append(report("floor", transport, floor_result, floor.peak_rss_mib()))
                finally:
                    floor.stop()
                print(rows[-1], flush=True)

            runs = [(w, False) for w in args.decode_workers.split(",")]
            if args.query_load:
                runs = [(w, loaded) for w, _ in runs for loaded in (False, True)]
            quiet_rates: dict[str, float] = {}
            for workers, loaded in runs:
                label = f"{transport}-{workers}{'-queried' if loaded else ''}"
                data = Path(tmp) / f"data-{label}"
                log = Path(tmp) / f"{label}.log"
                server = start_breadcrumbs(data, log, workers)
                try:
                    result = asyncio.run(
                        run_clients(server, transport, pool, args.seconds, query_load=loaded)
                    )
                    name = f"breadcrumbs, decode workers {workers}"
                    name += ", with query load" if loaded else ""
                    rows.append(report(name, transport, result, server.peak_rss_mib()))
                    http_url = server.ready_url.removesuffix("/readyz")
                    figures = pipeline_figures(http_url)
                    drain_began = time.monotonic()
                    while unflushed_spans(http_url) > 0 and time.monotonic() - drain_began < 120:
                        time.sleep(0.2)
                    drain = time.monotonic() - drain_began
                    # Every acknowledged span must reach the store (a fresh data dir: nothing
                    # else was written to it).
                    stored = metric(http_url, "breadcrumbs_store_flushed_spans_total")
                finally:
                    server.stop()
                print(rows[-1], flush=True)
                print(f"  {figures}", flush=True)
                print(f"  store caught up {drain:.1f} s after the load stopped", flush=True)
                print(
                    f"  stored {stored:,.0f} of {result.spans:,} acknowledged spans "
                    f"(missing: {result.spans - stored:,.0f})",
                    flush=True,
                )
                if result.queries is not None:
                    print(result.queries.line(), flush=True)
                    if result.queries.failed:  # the server's account of it outlives the run
                        kept_name = f"bench-ingest-{label}-{os.getpid()}.log"
                        kept = Path(tempfile.gettempdir()) / kept_name
                        kept.write_bytes(log.read_bytes())
                        print(f"  server log kept: {kept}", flush=True)
                    notes.append(f"{transport}, decode workers {workers}:\n{result.queries.line()}")
                if loaded and workers in quiet_rates:
                    ratios.append(
                        (
                            f"{transport}, decode workers {workers}, with query load",
                            result.rate / quiet_rates[workers],
                            "of its rate without the query load",
                        )
                    )
                    continue
                quiet_rates[workers] = result.rate
                if floor_result is not None:
                    ratios.append(
                        (
                            f"{transport}, decode workers {workers}",
                            result.rate / floor_result.rate,
                            "of the parse-and-ack floor",
                        )
                    )

    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {os.cpu_count()} cores {cpu}, Python {platform.python_version()}")
    print(f"{CLIENTS} clients x {args.seconds:.0f} s per run, {SPANS_PER_REQUEST} spans/request\n")
    columns = ["server", "transport", "spans/s", "ack p50 ms", "ack p99 ms"]
    columns += ["CPU s / M spans", "peak RSS MiB", "refused"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    for run, ratio, of in ratios:
        print(f"\n{run}: breadcrumbs sustains {ratio:.0%} {of}")
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
