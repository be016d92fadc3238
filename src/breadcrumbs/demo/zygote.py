"""The shop's process factory: import everything once, then fork one process per service.

    python -m breadcrumbs.demo.zygote        # config in BREADCRUMBS_DEMO_CONFIG

Fourteen interpreters each importing Starlette, uvicorn, httpx and the OpenTelemetry SDK cost
~1.3 s of CPU and ~35 MiB of private memory apiece; forked from one warm parent they start in
milliseconds and share those pages copy-on-write. Nothing here starts a thread, a loop or a
connection before the fork: every service initialises its SDK, sockets and SQLite after it.

The zygote leads the shop's process group. It writes ``pids.json`` to the state directory once
every service is forked, forwards SIGTERM/SIGINT to them, reaps them, and exits when they all
have (or when its own parent dies).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from breadcrumbs.demo import extra
from breadcrumbs.demo.runtime import ShopConfig, serve, watch_parent
from breadcrumbs.demo.services import SERVICES, UNTRACED, builder

__all__ = ["PIDS_FILE", "main"]

PIDS_FILE = "pids.json"
STOP_GRACE_S = 6.0
# Stable semconv (http.request.method, db.query.text next to db.statement): read once when
# the instrumentations first load, so it must be set before the preload.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database/dup")


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _preload() -> None:
    for module in (*extra.MODULES, "uvicorn"):
        importlib.import_module(module)
    for name in SERVICES:
        builder(name)
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the shared pages


def _child(name: str, port: int, log_dir: Path) -> None:
    """In the forked child: own log file, default signals, then the service. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        with contextlib.suppress(OSError):  # `ps -o comm` and top show the service's name
            Path("/proc/self/comm").write_text(name[:15])
        fd = os.open(log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        serve(name, port, builder(name), traced=name not in UNTRACED)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main() -> None:
    config = ShopConfig.from_env()
    state_dir = Path(config.state_dir)
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text("kale-zygote")
    ports = {name: int(url.rsplit(":", 1)[1]) for name, url in config.peers.items()}
    _preload()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    children: dict[int, str] = {}
    try:
        for name in SERVICES:
            pid = os.fork()
            if pid == 0:
                _child(name, ports[name], state_dir / "logs")
            children[pid] = name
        tmp = state_dir / f"{PIDS_FILE}.tmp"
        tmp.write_text(json.dumps({name: pid for pid, name in children.items()}))
        os.replace(tmp, state_dir / PIDS_FILE)
        watch_parent()
        while children:
            pid, _ = os.wait()
            children.pop(pid, None)
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop(children)


def _stop(children: dict[int, str]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while children and time.monotonic() < deadline:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.05)
        else:
            children.pop(pid, None)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in list(children):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
