"""Two builds of the server side by side, queried in turns: server CPU per request, A against B.

Each of ``--a`` and ``--b`` (a ``src`` directory: this checkout's, or an exported older commit)
serves its own copy of a data directory that ``bench/query.py --keep DIR`` loaded. Requests go
in blocks of ``--block``, alternating A and B (AB, then BA, ...), so both see the same load
on a shared machine. Per call: server CPU per request (``/proc/<pid>/stat``, all threads, over
each block: the clock ticks are 10 ms), its spread over the blocks, and wall p50/p99. The
responses of both are compared byte for byte.

    git archive BASE src | tar -x -C /tmp/base   # then copy the native .so into it
    python bench/query_ab.py /tmp/q1m --a /tmp/base/src --b src --blocks 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from query import HOUR_NS, cpu_seconds, free_port, loaded_services, pct


class Server:
    def __init__(self, name: str, src: Path, data: Path) -> None:
        self.name = name
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(src.resolve())}
        self.log = (data / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "breadcrumbs", "serve", "--data-dir", str(data),
             "--host", "127.0.0.1", "--http-port", str(self.port), "--otlp-grpc-port", "0",
             "--otlp-http-port", "0", "--zipkin-port", "0", "--sampling-port", "0",
             "--retention", "0"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120)
        self.cpu: dict[str, list[float]] = {}
        self.wall: dict[str, list[float]] = {}

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} never became ready")

    def settle(self) -> None:
        """Until the start-up upkeep (dependency counts, lookup merges) goes quiet."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            before = cpu_seconds(self.process.pid)
            time.sleep(1.0)
            if cpu_seconds(self.process.pid) - before < 0.02:
                return

    def block(self, call: str, paths: list[str]) -> list[bytes]:
        bodies = []
        before = cpu_seconds(self.process.pid)
        for path in paths:
            began = time.perf_counter()
            response = self.client.get(path)
            self.wall.setdefault(call, []).append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{self.name} {path} -> {response.status_code}")
            bodies.append(response.content)
        spent = cpu_seconds(self.process.pid) - before
        self.cpu.setdefault(call, []).append(spent * 1000 / len(paths))
        return bodies

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a directory bench/query.py --keep loaded")
    parser.add_argument("--a", type=Path, required=True, help="src directory of build A")
    parser.add_argument("--b", type=Path, required=True, help="src directory of build B")
    parser.add_argument("--blocks", type=int, default=20, help="per build and call")
    parser.add_argument("--block", type=int, default=20, help="get-traces per block")
    parser.add_argument("--search-block", type=int, default=5, help="searches per block")
    args = parser.parse_args()

    ids, services, end = loaded_services(args.data)
    tags = json.dumps({"http.response.status_code": "500"})
    window = f"start={(end - HOUR_NS) // 1000}&end={end // 1000}"
    rng = random.Random(17)
    calls: dict[str, tuple[int, Callable[[], str]]] = {
        "get-trace": (args.block, lambda: f"/api/traces/{rng.choice(ids)}"),
        "search (service + tag + minDuration, 20)": (
            args.search_block,
            lambda: (
                f"/api/traces?service={rng.choice(services)}&{window}&limit=20"
                f"&tags={tags}&minDuration=20ms"
            ),
        ),
    }
    with tempfile.TemporaryDirectory(prefix="bench-query-ab-") as tmp:
        servers = []
        for name, src in (("A", args.a), ("B", args.b)):
            copy = Path(tmp) / name
            copy.mkdir()
            for path in args.data.glob("spans.duckdb*"):
                shutil.copy(path, copy / path.name)
            servers.append(Server(name, src, copy))
        try:
            for server in servers:
                server.wait_ready()
                for trace_id in ids[:20]:  # warm: first calls pay for lazy set-up
                    server.client.get(f"/api/traces/{trace_id}")
                server.settle()
            print(f"load average before: {os.getloadavg()}", flush=True)
            differing = 0
            for i in range(args.blocks):
                for call, (count, path) in calls.items():
                    paths = [path() for _ in range(count)]
                    order = servers if i % 2 == 0 else servers[::-1]
                    first, second = (s.block(call, paths) for s in order)
                    differing += sum(x != y for x, y in zip(first, second, strict=True))
            load = os.getloadavg()
        finally:
            for server in servers:
                server.stop()
    print(f"\nmachine: {os.cpu_count()} cores; load average after: {load}")
    print(f"A = {args.a}, B = {args.b}; responses differing between A and B: {differing}\n")
    print(
        "| call | build | server CPU ms/req (mean of blocks) | block p10-p90 | wall p50 ms "
        "| wall p99 ms | n |"
    )
    print("|---|---|---|---|---|---|---|")
    for call in calls:
        for server in servers:
            cpu, wall = server.cpu[call], server.wall[call]
            deciles = statistics.quantiles(cpu, n=10) if len(cpu) > 1 else [cpu[0]] * 9
            print(
                f"| {call} | {server.name} | {statistics.mean(cpu):.1f} | "
                f"{deciles[0]:.1f}-{deciles[-1]:.1f} | {pct(wall, 0.5):.1f} | "
                f"{pct(wall, 0.99):.1f} | {len(wall)} |"
            )
    for call in calls:
        a, b = (statistics.mean(s.cpu[call]) for s in servers)
        print(f"\n{call}: B/A server CPU {b / a:.2f}")


if __name__ == "__main__":
    main()
