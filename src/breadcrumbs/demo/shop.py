"""The shop supervisor: one process per service, one process group, nothing left behind.

    shop = start_shop(otlp_endpoint="http://127.0.0.1:4318")   # returns once all are healthy
    shop.start_load(rate=2.0)                                  # background traffic (a thread)
    ...
    shop.stop()                                                # SIGTERM the group, then SIGKILL

`run_shop(...)` does the same in the foreground with a live summary until Ctrl-C, SIGTERM
or ``duration``. The services are forked by `breadcrumbs.demo.zygote`, which leads their
process group; each of them, and the zygote, exits when its parent dies, so even a SIGKILLed
supervisor leaves no orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live

from breadcrumbs.demo import extra
from breadcrumbs.demo.loadgen import LoadGenerator, Stats
from breadcrumbs.demo.runtime import CONFIG_ENV, ShopConfig
from breadcrumbs.demo.scenarios import ScenarioFile, validate
from breadcrumbs.demo.services import SERVICES
from breadcrumbs.demo.zygote import PIDS_FILE

__all__ = [
    "BASE_PORT_ENV",
    "DEFAULT_BASE_PORT",
    "Shop",
    "ShopError",
    "default_base_port",
    "run_shop",
    "start_shop",
]

DEFAULT_BASE_PORT = 18080
BASE_PORT_ENV = "BREADCRUMBS_DEMO_BASE_PORT"
DEFAULT_RATE = 2.0
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 8.0


class ShopError(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _listening_range() -> range:
    """Ports below the kernel's ephemeral range: a port picked there stays free until the
    service binds it, where one the kernel handed out (bind to 0) can meanwhile become the
    source port of any outgoing connection (seen as a flaky 'address already in use')."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(20000, max(20001, min(low, 65536)))


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free now, outside the ephemeral range where it has room."""
    candidates = _listening_range()
    picked: list[int] = []
    for port in random.sample(candidates, min(len(candidates), 50 * count)):
        if len(picked) == count:
            return picked
        if port not in picked and not _taken(port):
            picked.append(port)
    while len(picked) < count:  # no room below the ephemeral range: let the kernel choose
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in picked:
            picked.append(port)
    return picked


def default_base_port() -> int:
    """``BREADCRUMBS_DEMO_BASE_PORT`` if set (0: any free ports), else 18080."""
    value = os.environ.get(BASE_PORT_ENV, "").strip()
    if not value:
        return DEFAULT_BASE_PORT
    try:
        return int(value)
    except ValueError:
        raise ShopError(f"{BASE_PORT_ENV}={value!r} is not a port number") from None


def _taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _ports(base_port: int) -> dict[str, int]:
    """Each service's port; a taken one is an error that names it, before anything starts
    (a service that cannot bind would leave its port to whoever holds it: another shop)."""
    if base_port == 0:
        return dict(zip(SERVICES, _free_ports(len(SERVICES)), strict=True))
    last = base_port + len(SERVICES) - 1
    if not 0 < base_port <= last <= 65535:
        raise ShopError(f"base port {base_port}: the shop needs {len(SERVICES)} ports from it")
    ports = {name: base_port + i for i, name in enumerate(SERVICES)}
    taken = [f"{port} ({name})" for name, port in ports.items() if _taken(port)]
    if taken:
        raise ShopError(
            f"port{'s' if len(taken) > 1 else ''} {', '.join(taken)} already in use "
            f"(another shop?). The shop needs ports {base_port}-{last}: choose others with "
            f"--base-port N or {BASE_PORT_ENV}=N, or 0 for any free ports."
        )
    return ports


@dataclass
class Shop:
    ports: dict[str, int]
    state_dir: Path
    zygote: subprocess.Popen[bytes] | None = None
    services: dict[str, int] = field(default_factory=dict)  # name -> pid, once forked
    owns_state_dir: bool = False
    _load: tuple[threading.Thread, asyncio.AbstractEventLoop, asyncio.Event] | None = None
    load: LoadGenerator | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """This supervisor's own children: the zygote (which forked the services)."""
        return {"zygote": self.zygote} if self.zygote is not None else {}

    def exited(self) -> bool:
        """True once the shop is gone: the zygote, or any service, has exited."""
        if self.zygote is None or self.zygote.poll() is not None:
            return True
        return any(not _alive(pid) for pid in self.services.values())

    def pids(self) -> dict[str, int]:
        """Every process of the shop: the zygote and each service."""
        zygote = {"(zygote)": self.zygote.pid} if self.zygote is not None else {}
        return {**zygote, **self.services}

    def log(self, name: str) -> str:
        path = self.state_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)}" for n in ["zygote", *SERVICES] if self.log(n))

    def set_scenarios(self, names: Iterable[str]) -> list[str]:
        response = httpx.put(
            self.gateway_url + "/control/scenarios", json={"scenarios": list(names)}, timeout=10
        )
        response.raise_for_status()
        active: list[str] = response.json()["active"]
        return active

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        assert self.zygote is not None
        deadline = time.monotonic() + timeout_s
        pending = dict(self.ports)
        pids_file = self.state_dir / PIDS_FILE
        with httpx.Client(timeout=1.0) as client:
            while pending:
                if self.zygote.poll() is not None:
                    raise ShopError(
                        f"the shop exited with {self.zygote.returncode}: {self._logs()}"
                    )
                if not self.services and pids_file.exists():
                    self.services = json.loads(pids_file.read_text())
                for name, port in list(pending.items()):
                    pid = self.services.get(name)
                    if pid is not None and not _alive(pid):
                        raise ShopError(f"{name} exited:\n{self.log(name)}")
                    # Healthy means *our* process answered: a port lost to another shop
                    # answers too, and traffic would silently go there.
                    if pid is not None and self._answers(client, port) == pid:
                        del pending[name]
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise ShopError(f"not healthy after {timeout_s:.0f} s: {sorted(pending)}")
                time.sleep(0.1)

    @staticmethod
    def _answers(client: httpx.Client, port: int) -> int | None:
        """The pid of the service answering /healthz on ``port``, if any."""
        try:
            response = client.get(f"http://127.0.0.1:{port}/healthz")
            pid = response.json().get("pid") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return pid if isinstance(pid, int) else None

    # -- traffic ----------------------------------------------------------------------
    def start_load(self, rate: float = DEFAULT_RATE, seed: int | None = None) -> LoadGenerator:
        """Customer traffic from a background thread with its own event loop."""
        if self._load is not None:
            raise ShopError("load already running")
        generator = LoadGenerator(self.gateway_url, rate, seed)
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(generator.run(stop))
            loop.close()

        thread = threading.Thread(target=run, name="shop-load", daemon=True)
        thread.start()
        self._load = (thread, loop, stop)
        self.load = generator
        return generator

    def stop_load(self) -> Stats | None:
        if self._load is None:
            return None
        thread, loop, stop = self._load
        with contextlib.suppress(RuntimeError):  # the loop may have finished already
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        self._load = None
        return self.load.stats if self.load else None

    # -- shutdown ---------------------------------------------------------------------
    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the shop's process group (services flush their spans), then SIGKILL it."""
        self.stop_load()
        if self.zygote is not None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.zygote.wait(timeout=timeout_s)
            self._signal_group(signal.SIGKILL)  # anything left, services included
            self.zygote.wait()
        if self.owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.zygote is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.zygote.pid, sig)  # the zygote leads the group

    def __enter__(self) -> Shop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_shop(
    *,
    otlp_endpoint: str | None = None,
    protocol: str = "http",
    base_port: int | None = None,
    scenarios: Iterable[str] = (),
    state_dir: Path | None = None,
    wait: bool = True,
    env: Mapping[str, str] | None = None,
) -> Shop:
    """Start every service and wait until all are healthy.

    ``base_port``: the gateway's port, the other services on the next ones; 0: any free
    ports; None: `default_base_port()`. A taken port raises `ShopError` naming it.

    ``otlp_endpoint``: breadcrumbs' OTLP base URL (``http://127.0.0.1:4318`` for HTTP,
    ``http://127.0.0.1:4317`` for gRPC); None leaves it to ``OTEL_*`` or the SDK default.
    ``env``: extra environment for the services (e.g. ``OTEL_BSP_SCHEDULE_DELAY``).
    """
    chosen = validate(scenarios)
    if (absent := extra.missing_message()) is not None:
        raise ShopError(absent)
    owns = state_dir is None
    root = Path(tempfile.mkdtemp(prefix="kale-shop-")) if state_dir is None else state_dir
    (root / "logs").mkdir(parents=True, exist_ok=True)
    ScenarioFile(root / "scenarios.json").write(chosen)
    ports = _ports(default_base_port() if base_port is None else base_port)
    proto = "grpc" if protocol == "grpc" else "http/protobuf"
    config = ShopConfig(
        peers={name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        state_dir=str(root),
        otlp_endpoint=otlp_endpoint,
        protocol=proto,
    )
    child_env = {**os.environ, **(env or {}), CONFIG_ENV: config.to_json()}
    shop = Shop(ports, root, owns_state_dir=owns)
    try:
        with (root / "logs" / "zygote.log").open("wb") as log:
            shop.zygote = subprocess.Popen(
                [sys.executable, "-m", "breadcrumbs.demo.zygote"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                process_group=0,  # a group of its own: one killpg reaches every service
            )
        if wait:
            shop.wait_ready()
    except BaseException:
        shop.stop()
        raise
    return shop


def head_sampling_env(endpoint: str, polling_interval_s: float = 10.0) -> dict[str, str]:
    """Environment that makes every shop service take its head-sampling strategy from
    breadcrumbs' sampling API at ``endpoint`` (``http://127.0.0.1:5778``), through the
    SDK's remote sampler; everything is kept until the first strategy arrives."""
    arg = f"endpoint={endpoint},pollingIntervalMs={int(polling_interval_s * 1000)}"
    return {
        "OTEL_TRACES_SAMPLER": "parentbased_jaeger_remote",
        "OTEL_TRACES_SAMPLER_ARG": arg + ",initialSamplingRate=1",
    }


def run_shop(
    *,
    rate: float = DEFAULT_RATE,
    scenarios: Iterable[str] = (),
    otlp_endpoint: str | None = None,
    protocol: str = "http",
    base_port: int | None = None,
    duration: float | None = None,
    console: Console | None = None,
    sampling_endpoint: str | None = None,
) -> Stats:
    """Start the shop and its traffic in the foreground until Ctrl-C, SIGTERM or ``duration``."""
    out = console or Console(stderr=True)
    chosen = validate(scenarios)
    if (absent := extra.missing_message()) is not None:
        raise ShopError(absent)  # before any banner: nothing starts
    out.print(f"[bold]kale smoothie shop[/]: starting {len(SERVICES)} services...")
    shop = start_shop(
        otlp_endpoint=otlp_endpoint,
        protocol=protocol,
        base_port=base_port,
        scenarios=chosen,
        env=head_sampling_env(sampling_endpoint) if sampling_endpoint else None,
    )
    banner = (
        f"gateway {shop.gateway_url}  scenarios: {', '.join(chosen) or 'none'}  "
        f"rate {rate:g}/s  (Ctrl-C to stop)"
    )
    try:
        return asyncio.run(_drive(shop, rate, duration, out, banner))
    finally:
        shop.stop()
        out.print("shop stopped: every service exited")


async def _drive(
    shop: Shop, rate: float, duration: float | None, out: Console, banner: str
) -> Stats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    out.print(banner)  # only now: from here on a signal means a clean stop
    if duration is not None:
        loop.call_later(duration, stop.set)
    generator = LoadGenerator(shop.gateway_url, rate)
    shop.load = generator
    runner = asyncio.create_task(generator.run(stop))
    try:
        if out.is_terminal:
            title = "kale smoothie shop: customers"
            with Live(generator.stats.table(title), console=out, refresh_per_second=2) as live:
                while not runner.done():
                    await asyncio.wait({runner}, timeout=0.5)
                    live.update(generator.stats.table(title))
        else:
            while not runner.done():
                finished, _ = await asyncio.wait({runner}, timeout=10.0)
                if not finished:
                    out.print(generator.stats.line())
        return await runner
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
