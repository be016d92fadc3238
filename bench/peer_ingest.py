"""Ingest side by side: breadcrumbs and its peers fed the same requests, measured the same way.

``python bench/ingest.py --peers jaeger-memory,jaeger-badger,zipkin`` runs this instead of the
usual runs. Per transport (``--transports``), breadcrumbs and each Jaeger store get the same
sequence of unique 1000-span OTLP requests (``peer_requests.UniqueRequests``) from 4 clients,
each waiting for its ack, for ``--seconds``; with ``zipkin`` among the peers, breadcrumbs'
Zipkin receiver and Zipkin's server get the same spans as Zipkin JSON v2 (``POST
/api/v2/spans``, converted once). Each system runs fresh, one at a time, on ports 44000-44999.

Measured for every run: spans/s acknowledged, ack p50/p99, CPU seconds per million spans and
peak RSS (``/proc``, the process tree), bytes on disk after the load, and what the system
stored, read back through its own API afterwards: a sample of the acknowledged traces (random
ones and the last sends of each client) fetched by id and their spans counted, beside the
system's own count of stored spans where it exports one. Acks differ: breadcrumbs acks after
its WAL's fsync; Jaeger acks when its batch processor has queued the spans, before they reach
the store (so an ack there is no promise); Zipkin's server answers 202 once its collector has
taken the spans, in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from peer_requests import UniqueRequests
from peers import PEERS, Peer, prometheus_value, range_port, start_jaeger, start_zipkin

CLIENTS = 4
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SAMPLE_RANDOM = 300
SAMPLE_LAST = 25  # per client: the last traces it had acknowledged


def start_breadcrumbs(workdir: Path, decode_workers: str = "auto") -> Peer:
    taken: set[int] = set()
    ports = {name: range_port(taken) for name in ("http", "otlp-http", "otlp-grpc", "zipkin")}
    data_dir = workdir / "data"
    log = workdir / "breadcrumbs.log"
    args = [sys.executable, "-c", "from breadcrumbs.cli import app; app()", "serve"]
    args += ["--data-dir", str(data_dir), "--host", "127.0.0.1", "--log-level", "warning"]
    args += ["--decode-workers", decode_workers, "--sampling-port=0", "--retention=0"]
    args += [f"--{name}-port={port}" for name, port in ports.items()]
    workdir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{ports['http']}"
    peer = Peer(
        "breadcrumbs",
        proc,
        query_url=base,
        ready_url=f"{base}/readyz",
        otlp_http=f"http://127.0.0.1:{ports['otlp-http']}/v1/traces",
        otlp_grpc=f"127.0.0.1:{ports['otlp-grpc']}",
        zipkin=f"http://127.0.0.1:{ports['zipkin']}/api/v2/spans",
        data_dir=data_dir,
        durable_ack=True,
        log=log,
        metrics_url=f"{base}/metrics",
    )
    try:
        peer.wait_ready()
    except BaseException:
        peer.stop()
        raise
    return peer


def start(system: str, workdir: Path, decode_workers: str = "auto") -> Peer:
    if system == "breadcrumbs":
        return start_breadcrumbs(workdir, decode_workers)
    if system.startswith("jaeger-"):
        return start_jaeger(system.removeprefix("jaeger-"), workdir)
    if system == "zipkin":
        return start_zipkin(workdir)
    raise ValueError(f"unknown system {system!r}")


# --- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    acked: list[int]  # send numbers acknowledged, in ack order
    last_per_client: list[int]
    latencies: list[float]
    refused: dict[str, int]
    seconds: float
    cpu_s: float
    spans_per_request: int

    @property
    def spans(self) -> int:
        return len(self.acked) * self.spans_per_request

    @property
    def rate(self) -> float:
        return self.spans / self.seconds

    def ack_ms(self, q: float) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[int(q * 100) - 1] * 1000


async def send_load(peer: Peer, transport: str, stream: UniqueRequests, seconds: float) -> Load:
    """4 clients sending unique requests (send numbers from 1, shared), each awaiting its ack;
    a refused send (429/503, RESOURCE_EXHAUSTED) waits as told and is not retried."""
    acked: list[int] = []
    last = [0] * CLIENTS
    latencies: list[float] = []
    refused: dict[str, int] = {}
    counter = iter(range(1, 2**32))
    deadline = time.monotonic() + seconds

    def refuse(reason: str) -> None:
        refused[reason] = refused.get(reason, 0) + 1

    async def http_client(index: int, url: str, content_type: str) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            while time.monotonic() < deadline:
                n = next(counter)
                body = stream.send(n)
                began = time.perf_counter()
                response = await client.post(
                    url, content=body, headers={"Content-Type": content_type}
                )
                if response.status_code in (200, 202):
                    latencies.append(time.perf_counter() - began)
                    acked.append(n)
                    last[index] = n
                else:
                    refuse(f"HTTP {response.status_code}")
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))

    async def grpc_client(index: int, address: str) -> None:
        options = [("grpc.max_send_message_length", 64 << 20)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            export = channel.unary_unary(EXPORT)  # raw bytes: no client re-encode
            while time.monotonic() < deadline:
                n = next(counter)
                body = stream.send(n)
                began = time.perf_counter()
                try:
                    await export(body, timeout=60)
                except grpc.aio.AioRpcError as error:
                    refuse(f"{error.code().name}")
                    await asyncio.sleep(1)
                else:
                    latencies.append(time.perf_counter() - began)
                    acked.append(n)
                    last[index] = n

    if transport == "http":
        clients = [http_client(i, peer.otlp_http, "application/x-protobuf") for i in range(CLIENTS)]
    elif transport == "grpc":
        clients = [grpc_client(i, peer.otlp_grpc) for i in range(CLIENTS)]
    elif transport == "zipkin":
        clients = [http_client(i, peer.zipkin, "application/json") for i in range(CLIENTS)]
    else:
        raise ValueError(f"unknown transport {transport!r}")
    cpu_before = peer.cpu_seconds()
    began = time.monotonic()
    await asyncio.gather(*clients)
    elapsed = time.monotonic() - began
    return Load(
        acked,
        last,
        latencies,
        refused,
        elapsed,
        peer.cpu_seconds() - cpu_before,
        stream.spans_per_request,
    )


# --- what was stored -----------------------------------------------------------------------


def own_count(peer: Peer) -> float | None:
    """The system's own count of spans stored (or handed to its store), where it exports one."""
    if peer.name == "breadcrumbs":
        return prometheus_value(peer.metrics_url, "breadcrumbs_store_spans")
    if peer.name.startswith("jaeger"):
        for name in ("otelcol_exporter_sent_spans_total", "otelcol_exporter_sent_spans"):
            found = prometheus_value(peer.metrics_url, name, exporter="jaeger_storage_exporter")
            if found is not None:
                return found
        return None
    received = prometheus_value(peer.metrics_url, "zipkin_collector_spans_total", transport="http")
    dropped = prometheus_value(
        peer.metrics_url, "zipkin_collector_spans_dropped_total", transport="http"
    )
    return None if received is None else received - (dropped or 0.0)


def settle(peer: Peer, acked_spans: int, timeout_s: float = 180.0) -> float:
    """Seconds until the system stored what it acknowledged after the load (breadcrumbs: its
    WAL's unflushed spans reached 0; the others: their own count reached the acknowledged
    spans, or stood still for 30 s: a batch reaches the count when all of it is stored)."""
    began = time.monotonic()
    if peer.name == "breadcrumbs":
        while time.monotonic() - began < timeout_s:
            unflushed = prometheus_value(peer.metrics_url, "breadcrumbs_wal_unflushed_spans")
            if not unflushed:
                break
            time.sleep(0.2)
        return time.monotonic() - began
    previous, still_since = own_count(peer), time.monotonic()
    while time.monotonic() - began < timeout_s:
        if previous is not None and previous >= acked_spans:
            break
        time.sleep(0.5)
        now = own_count(peer)
        if now != previous:
            previous, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > 30:
            break
    return time.monotonic() - began


def fetch_trace_spans(client: httpx.Client, peer: Peer, trace_id: str) -> int:
    """Spans the system returns for a trace id through its own HTTP API (0 when not found)."""
    if peer.name == "zipkin":
        response = client.get(f"{peer.query_url}/api/v2/trace/{trace_id}")
        return len(response.json()) if response.status_code == 200 else 0
    response = client.get(f"{peer.query_url}/api/traces/{trace_id}")
    if response.status_code != 200:
        return 0
    return sum(len(trace["spans"]) for trace in response.json()["data"])


@dataclass
class Stored:
    sampled_traces: int
    expected_spans: int
    found_spans: int
    own_count: float | None
    settle_s: float

    @property
    def missing_share(self) -> float:
        return 1 - self.found_spans / self.expected_spans if self.expected_spans else 0.0


def check_stored(peer: Peer, stream: UniqueRequests, load: Load, settle_s: float) -> Stored:
    """Fetch a sample of acknowledged traces by id: random sends' traces and the last
    acknowledged sends of each client, where an ack that was not yet stored would show."""
    rng = random.Random(5)
    wanted: list[tuple[str, int]] = []
    for n in rng.sample(load.acked, min(SAMPLE_RANDOM, len(load.acked))):
        trace_id, spans = rng.choice(list(stream.trace_spans(n).items()))
        wanted.append((trace_id, spans))
    for n in load.last_per_client:
        if n:
            wanted.extend(list(stream.trace_spans(n).items())[:SAMPLE_LAST])
    found = 0
    with httpx.Client(timeout=60) as client:
        for trace_id, _ in wanted:
            found += fetch_trace_spans(client, peer, trace_id)
    return Stored(len(wanted), sum(s for _, s in wanted), found, own_count(peer), settle_s)


# --- the side-by-side run ------------------------------------------------------------------


@dataclass
class Run:
    system: str
    transport: str
    load: Load
    rss_mib: float
    disk_bytes: int
    stored: Stored
    durable_ack: bool

    def row(self) -> str:
        load, stored = self.load, self.stored
        cpu = load.cpu_s / (load.spans / 1e6) if load.spans else float("nan")
        disk = (
            f"{self.disk_bytes / 2**20:,.0f} MiB ({self.disk_bytes / load.spans:.0f} B/span)"
            if self.disk_bytes and load.spans
            else "- (memory)"
        )
        own = f"{stored.own_count:,.0f}" if stored.own_count is not None else "n/a"
        missing = f"{stored.expected_spans - stored.found_spans} of {stored.expected_spans}"
        refused = sum(load.refused.values())
        return (
            f"| {self.system} | {self.transport} | {'fsync' if self.durable_ack else 'no'} | "
            f"{load.rate:,.0f} | {load.ack_ms(0.5):.1f} | {load.ack_ms(0.99):.1f} | {cpu:.1f} | "
            f"{self.rss_mib:,.0f} | {disk} | {load.spans:,} | {own} | {missing} | {refused} |"
        )


HEADER = (
    "| system | transport | ack after fsync | spans/s | ack p50 ms | ack p99 ms | CPU s / M spans "
    "| peak RSS MiB | on disk | spans acked | stored (own count) | missing in sample | refused |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def run_one(
    system: str,
    transport: str,
    stream: UniqueRequests,
    seconds: float,
    workdir: Path,
    decode_workers: str,
) -> Run:
    peer = start(system, workdir, decode_workers)
    try:
        load = asyncio.run(send_load(peer, transport, stream, seconds))
        settled = settle(peer, load.spans)
        rss = peer.peak_rss_mib()
        stored = check_stored(peer, stream, load, settled)
        disk = peer.disk_bytes()
    finally:
        peer.stop()
    for reason, count in load.refused.items():
        print(f"  {system}: refused {count}x {reason}", flush=True)
    return Run(system, transport, load, rss, disk, stored, peer.durable_ack)


def ratio_lines(runs: list[Run]) -> list[str]:
    lines = []
    ours = {run.transport: run for run in runs if run.system == "breadcrumbs"}
    for run in runs:
        mine = ours.get(run.transport)
        if run.system == "breadcrumbs" or mine is None or not run.load.spans:
            continue
        cpu_mine = mine.load.cpu_s / mine.load.spans
        cpu_peer = run.load.cpu_s / run.load.spans
        lines.append(
            f"breadcrumbs / {run.system} over {run.transport}: spans/s "
            f"{mine.load.rate / run.load.rate:.2f}x, ack p99 "
            f"{mine.load.ack_ms(0.99) / run.load.ack_ms(0.99):.2f}x, CPU per span "
            f"{cpu_mine / cpu_peer:.2f}x, peak RSS {mine.rss_mib / run.rss_mib:.2f}x"
            + (
                f", bytes on disk per span {mine.disk_bytes / mine.load.spans:.0f} vs "
                f"{run.disk_bytes / run.load.spans:.0f}"
                if run.disk_bytes and mine.disk_bytes
                else ""
            )
        )
    return lines


def side_by_side(
    peers: list[str],
    transports: list[str],
    pool: list[bytes],
    seconds: float,
    decode_workers: str = "auto",
) -> list[Run]:
    for peer in peers:
        if peer not in PEERS:
            raise SystemExit(f"unknown peer {peer!r}: {', '.join(PEERS)}")
    plan: list[tuple[str, str]] = []
    jaegers = [p for p in peers if p.startswith("jaeger")]
    for transport in transports if jaegers else []:
        plan += [(system, transport) for system in ["breadcrumbs", *jaegers]]
    if "zipkin" in peers:
        plan += [("breadcrumbs", "zipkin"), ("zipkin", "zipkin")]
    otlp = UniqueRequests(pool, "otlp")
    zipkin = UniqueRequests(pool, "zipkin") if "zipkin" in peers else None
    runs = []
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        for i, (system, transport) in enumerate(plan):
            stream = zipkin if transport == "zipkin" and zipkin is not None else otlp
            workdir = Path(tmp) / f"{i}-{system}-{transport}"
            run = run_one(system, transport, stream, seconds, workdir, decode_workers)
            runs.append(run)
            print(run.row(), flush=True)
            print(
                f"  settled {run.stored.settle_s:.1f} s after the load; sampled "
                f"{run.stored.sampled_traces} traces; load average {os.getloadavg()}",
                flush=True,
            )
            with contextlib.suppress(OSError):
                for path in workdir.rglob("*.log"):
                    tail = path.read_text(errors="replace").strip().splitlines()[-3:]
                    if tail and run.stored.found_spans < run.stored.expected_spans:
                        print(f"  {path.name}: " + " / ".join(tail), flush=True)
    print(f"\n{CLIENTS} clients x {seconds:.0f} s per run, {otlp.spans_per_request} spans/request")
    print(f"load average after: {os.getloadavg()}\n")
    print(HEADER)
    for run in runs:
        print(run.row())
    print()
    for line in ratio_lines(runs):
        print(line)
    return runs
