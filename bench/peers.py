"""The peers the benchmarks run beside breadcrumbs: Jaeger v2 all-in-one and Zipkin's server.

Nothing of either is committed. Both land in a cache directory outside the repository
(``$BREADCRUMBS_BENCH_CACHE``, default ``~/.cache/breadcrumbs-bench``) the first time a
benchmark asks for them:

- Jaeger v1.75.0 (the v2 binary, ``cmd/jaeger``) is built from the Go module proxy under
  ``nice -n 10``: the module is downloaded with ``go mod download`` and built inside its own
  tree, because its go.mod has a ``replace`` directive that ``go install pkg@version`` refuses.
  About 12 minutes on a 2-core machine, once.
- Zipkin's server (``io.zipkin:zipkin-server``, the ``exec`` jar) comes from Maven Central
  through ``mvn dependency:get`` and runs on the machine's Java.

Each peer runs as one process on ports from 44000-44999 (never their defaults, which a
developer's own Jaeger or Zipkin may hold), in a temp directory, and is stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from breadcrumbs import procfs

JAEGER_VERSION = "v1.75.0"
ZIPKIN_VERSION = "3.6.1"
PORT_RANGE = range(44000, 45000)
PEERS = ("jaeger-memory", "jaeger-badger", "jaeger-badger-async", "zipkin")


def cache_dir() -> Path:
    return Path(
        os.environ.get("BREADCRUMBS_BENCH_CACHE", Path.home() / ".cache" / "breadcrumbs-bench")
    )


def range_port(taken: set[int] | None = None) -> int:
    """A free port in the peers' range (bound and released: free now, as ``free_port`` is)."""
    taken = taken if taken is not None else set()
    ports = list(PORT_RANGE)
    random.shuffle(ports)
    for port in ports:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


# --- getting the binaries ------------------------------------------------------------------


def jaeger_binary() -> Path:
    """The cached Jaeger binary, built first if absent (~12 minutes)."""
    binary = cache_dir() / f"jaeger-{JAEGER_VERSION}" / "jaeger"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Jaeger is built from the Go module proxy: install Go first")
    print(
        f"building Jaeger {JAEGER_VERSION} from the Go module proxy into {binary.parent}: "
        "about 12 minutes on 2 cores, once (nice -n 10); later runs reuse it",
        flush=True,
    )
    began = time.monotonic()
    module = f"github.com/jaegertracing/jaeger@{JAEGER_VERSION}"
    info = json.loads(
        subprocess.run(
            [go, "mod", "download", "-json", module], check=True, capture_output=True, cwd="/"
        ).stdout
    )
    source = cache_dir() / f"jaeger-{JAEGER_VERSION}-src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(info["Dir"], source)
    for path in [source, *source.rglob("*")]:  # the module cache is read-only
        path.chmod(path.stat().st_mode | 0o200)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    subprocess.run(
        ["nice", "-n", "10", go, "build", "-o", str(partial), "./cmd/jaeger"],
        check=True,
        cwd=source,
    )
    partial.rename(binary)
    shutil.rmtree(source, ignore_errors=True)
    print(f"built Jaeger in {time.monotonic() - began:.0f} s: {binary}", flush=True)
    return binary


def zipkin_jar() -> Path:
    """The cached Zipkin server exec jar, fetched from Maven Central first if absent."""
    jar = cache_dir() / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Zipkin's server comes from Maven Central: install Maven first")
    print(f"fetching io.zipkin:zipkin-server:{ZIPKIN_VERSION} (exec jar) into {jar}", flush=True)
    artifact = f"io.zipkin:zipkin-server:{ZIPKIN_VERSION}:jar:exec"
    subprocess.run(
        ["nice", "-n", "10", mvn, "-q", "-B", "dependency:get", f"-Dartifact={artifact}",
         "-Dtransitive=false"],
        check=True,
        cwd="/",
    )  # fmt: skip
    local = Path.home() / ".m2" / "repository" / "io" / "zipkin" / "zipkin-server"
    jar.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(local / ZIPKIN_VERSION / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar", jar)
    return jar


# --- running them --------------------------------------------------------------------------


@dataclass
class Peer:
    """A running system under test: where to send, where to query, its process and data."""

    name: str
    proc: subprocess.Popen[bytes]
    query_url: str  # the Jaeger (or Zipkin) HTTP API
    ready_url: str
    otlp_http: str = ""  # full URLs / addresses of its receivers ("" where it has none)
    otlp_grpc: str = ""
    zipkin: str = ""
    data_dir: Path | None = None  # None: it keeps nothing on disk
    durable_ack: bool = False
    log: Path | None = None
    metrics_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def processes(self) -> list[int]:
        return [self.proc.pid, *procfs.descendants(self.proc.pid)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                total += procfs.cpu_seconds(pid)
        return total

    def peak_rss_mib(self) -> float:
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                total += procfs.kib(pid, "status", "VmHWM")
        return total / 1024

    def disk_bytes(self) -> int:
        """Blocks allocated under its data directory (as ``du``: Badger's value log is a
        sparse file whose length says little)."""
        if self.data_dir is None:
            return 0
        return sum(p.stat().st_blocks * 512 for p in self.data_dir.rglob("*") if p.is_file())

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log else ""
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.ready_url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def jaeger_config(store: str, ports: dict[str, int], data_dir: Path) -> str:
    """Jaeger v2's all-in-one configuration (its own ``config.yaml`` / ``config-badger.yaml``:
    OTLP receiver, batch processor, storage exporter, query extension) with ``store`` "memory"
    (no trace limit that would evict what the benchmark sent) or "badger" on ``data_dir`` with
    sync writes (``consistency: true``), or "badger-async" without them (Jaeger's default)."""
    if store == "memory":
        backend = "        memory:\n          max_traces: 100000000\n"
    elif store in ("badger", "badger-async"):
        backend = (
            "        badger:\n"
            "          directories:\n"
            f"            keys: {json.dumps(str(data_dir / 'keys'))}\n"
            f"            values: {json.dumps(str(data_dir / 'values'))}\n"
            "          ephemeral: false\n"
            f"          consistency: {'false' if store == 'badger-async' else 'true'}\n"
            "          ttl:\n"
            "            spans: 48h\n"
        )
    else:
        raise ValueError(f"unknown Jaeger store {store!r}")
    return f"""\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {ports["metrics"]}
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{ports["health"]}
  jaeger_query:
    storage:
      traces: main
    http:
      endpoint: 127.0.0.1:{ports["query-http"]}
    grpc:
      endpoint: 127.0.0.1:{ports["query-grpc"]}
  jaeger_storage:
    backends:
      main:
{backend}receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{ports["otlp-grpc"]}
        max_recv_msg_size_mib: 64
      http:
        endpoint: 127.0.0.1:{ports["otlp-http"]}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: main
"""


def start_jaeger(store: str, workdir: Path) -> Peer:
    binary = jaeger_binary()
    taken: set[int] = set()
    names = ("otlp-grpc", "otlp-http", "query-http", "query-grpc", "health", "metrics")
    ports = {name: range_port(taken) for name in names}
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "badger"
    config = workdir / "jaeger.yaml"
    config.write_text(jaeger_config(store, ports, data_dir))
    log = workdir / "jaeger.log"
    # Its own tracing would otherwise export to localhost:4317, the default OTLP port.
    env = dict(os.environ, OTEL_TRACES_EXPORTER="none", OTEL_SDK_DISABLED="true")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--config", str(config)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    peer = Peer(
        f"jaeger-{store}",
        proc,
        query_url=f"http://127.0.0.1:{ports['query-http']}",
        ready_url=f"http://127.0.0.1:{ports['health']}/status",
        otlp_http=f"http://127.0.0.1:{ports['otlp-http']}/v1/traces",
        otlp_grpc=f"127.0.0.1:{ports['otlp-grpc']}",
        data_dir=data_dir if store.startswith("badger") else None,
        log=log,
        metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics",
    )
    try:
        peer.wait_ready()
    except BaseException:
        peer.stop()
        raise
    return peer


def start_zipkin(workdir: Path, max_spans: int = 20_000_000) -> Peer:
    """Zipkin's server with its in-memory store (the one it ships without a database), sized
    so that it evicts nothing the benchmark sends (its default keeps 500,000 spans)."""
    jar = zipkin_jar()
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Zipkin's server needs Java")
    port = range_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "zipkin.log"
    env = dict(os.environ, QUERY_PORT=str(port), STORAGE_TYPE="mem", MEM_MAX_SPANS=str(max_spans))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [java, "-Xmx8g", "-jar", str(jar), "--server.address=127.0.0.1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    peer = Peer(
        "zipkin",
        proc,
        query_url=base,
        ready_url=f"{base}/health",
        zipkin=f"{base}/api/v2/spans",
        log=log,
        metrics_url=f"{base}/prometheus",
    )
    try:
        peer.wait_ready()
    except BaseException:
        peer.stop()
        raise
    return peer


def prometheus_value(url: str, name: str, **labels: str) -> float | None:
    """The sum of a metric's samples whose labels include ``labels`` (None when absent)."""
    try:
        text = httpx.get(url, timeout=10).text
    except httpx.HTTPError:
        return None
    total = None
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total
