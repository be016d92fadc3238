"""Shared fixtures: a real ``breadcrumbs serve`` process on free ports in a temp dir.

``server`` is one process per test module (start-up costs a second or two); ``server_factory``
makes processes a test controls itself (SIGKILL, restart on the same data dir). Annotate with
``if TYPE_CHECKING: from tests.conftest import ServerProcess`` (a type only: ``tests`` is not
importable at run time under the ``pytest`` script).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

PORT_NAMES = ("otlp_grpc_port", "otlp_http_port", "zipkin_port", "http_port", "sampling_port")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
# How long a test waits for accepted spans to show up: generous for a loaded 2-core CI
# machine. The contract (searchable within 2 s) is a benchmark's to measure, not a test's.
VISIBLE_TIMEOUT_S = 30.0
_BANNER = re.compile(r"^breadcrumbs \S+ ready$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A ``breadcrumbs serve`` subprocess; its stderr goes to ``log_path``."""

    visible_timeout_s: ClassVar[float] = VISIBLE_TIMEOUT_S  # for polls in other modules
    data_dir: Path
    extra_args: tuple[str, ...] = ()
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in PORT_NAMES})
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-server-{self.starts}.log"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http_port']}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['otlp_http_port']}"

    @property
    def zipkin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['zipkin_port']}"

    @property
    def sampling_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sampling_port']}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports['otlp_grpc_port']}"

    def start(self) -> ServerProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        args = [
            sys.executable,
            "-c",
            "from breadcrumbs.cli import app; app()",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            *(f"--{name.replace('_', '-')}={port}" for name, port in self.ports.items()),
            *self.extra_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BREADCRUMBS_")}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            # The banner proves it is this process that is ready, not another one that
            # happens to hold the port.
            if _BANNER.search(self.log()):
                try:
                    if httpx.get(self.http_url + "/readyz", timeout=2.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server not ready after {START_TIMEOUT_S} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get_json(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.http_url + path, params=params, timeout=10.0)
        response.raise_for_status()
        return response.json()

    def wait_for_spans(
        self, trace_id: str, count: int, timeout_s: float = VISIBLE_TIMEOUT_S
    ) -> Any:
        """The Jaeger JSON of a trace once it has ``count`` spans (a bounded poll)."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = httpx.get(f"{self.http_url}/api/traces/{trace_id}", timeout=10.0)
            if response.status_code == 200:
                data = response.json()["data"]
                if data and len(data[0]["spans"]) >= count:
                    return data[0]
            if time.monotonic() > deadline:
                got = response.text[:300]
                raise AssertionError(
                    f"trace {trace_id}: not {count} spans after {timeout_s} s: {got}"
                )
            time.sleep(0.05)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    made: list[ServerProcess] = []

    def make(data_dir: Path | None = None, *extra_args: str) -> ServerProcess:
        process = ServerProcess(data_dir or tmp_path / "data", tuple(extra_args))
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server per test module; a module sets ``SERVER_ARGS = ("--flag", "value")`` for
    extra ``serve`` flags. After the module, its log must hold no traceback (no crash, no
    500 of ours)."""
    extra = tuple(getattr(request.module, "SERVER_ARGS", ()))
    process = ServerProcess(tmp_path_factory.mktemp("server") / "data", extra).start()
    yield process
    process.kill()
    assert "Traceback" not in process.log(), process.log()
