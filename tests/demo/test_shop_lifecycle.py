"""``breadcrumbs demo run`` leaves no process behind: Ctrl-C, SIGTERM, even SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from breadcrumbs.demo.services import SERVICES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

START_S = 120.0
GONE_S = 20.0


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def descendants_of(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        kids = set().union(*(children_of(p) for p in frontier))
        frontier = kids - found
        found |= kids
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


def start_demo(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from breadcrumbs.demo.cli import demo_app; demo_app()",
                "run",
                "--base-port",
                "0",
                "--rate",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
            start_new_session=True,  # its own terminal-like group, for a real Ctrl-C
        )
    deadline = time.monotonic() + START_S
    while not re.search(r"gateway http://127\.0\.0\.1:\d+", log.read_text(errors="replace")):
        assert parent.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"demo not up after {START_S} s"
        time.sleep(0.2)
    return parent, log


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_stopping_the_parent_leaves_no_orphan(tmp_path: Path, how: str) -> None:
    parent, log = start_demo(tmp_path)
    try:
        services = descendants_of(parent.pid)
        assert len(services) == len(SERVICES) + 1  # and the zygote that forked them
        if how == "ctrl-c":
            os.killpg(parent.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
        elif how == "sigterm":
            parent.send_signal(signal.SIGTERM)
        else:
            parent.send_signal(signal.SIGKILL)
        code = parent.wait(timeout=60)
        if how != "sigkill":
            assert code == 0, log.read_text()
            assert "shop stopped" in log.read_text()
        deadline = time.monotonic() + GONE_S
        while any(alive(pid) for pid in services) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in services if alive(pid)] == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
