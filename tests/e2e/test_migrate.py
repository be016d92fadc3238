"""``breadcrumbs migrate`` as a user runs it: a DuckDB store copied into ClickHouse (chDB),
killed with SIGKILL midway and run again, ends with every span there exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from tests.e2e.test_export_import import cli, ok, read
from tests.portability.spans import rows

from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.duckdb import DuckDBStore

T0 = 1_764_000_000_000_000_000
TRACES = 1_500
SPANS_PER_TRACE = 4
STEP_NS = 12 * 10**9  # a trace every 12 s: five hours of data
KILL_TIMEOUT_S = 300.0


def _spans() -> list[Span]:
    spans = []
    for t in range(TRACES):
        trace_id = f"{t + 1:032x}"
        start = T0 + t * STEP_NS
        root = f"{t + 1:08x}00000001"
        spans.append(
            Span(
                trace_id,
                root,
                "GET /order",
                "gateway",
                start,
                9_000_000,
                kind=SpanKind.SERVER,
                attributes={"http.response.status_code": 200 + (t % 2) * 300},
                resource={"service.name": "gateway", "host.name": f"gw-{t % 3}"},
            )
        )
        for s in range(2, SPANS_PER_TRACE + 1):
            spans.append(
                Span(
                    trace_id,
                    f"{t + 1:08x}{s:08x}",
                    f"step {s}",
                    "orders",
                    start + s * 1000,
                    1_000_000,
                    parent_span_id=root,
                    kind=SpanKind.CLIENT,
                    status=StatusCode.ERROR if t % 7 == 0 else StatusCode.UNSET,
                    resource={"service.name": "orders"},
                )
            )
    return spans  # fmt: skip


def _make_source(directory: Path) -> None:
    async def write() -> None:
        store = DuckDBStore(directory / "spans.duckdb")
        try:
            await store.write(batch_from_spans(_spans()))
        finally:
            await store.close()

    asyncio.run(write())


def _checkpoint(path: Path) -> dict[str, int] | None:
    try:
        found: dict[str, int] = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return found


def test_killed_midway_then_resumed_copies_each_span_once(tmp_path: Path) -> None:
    source = tmp_path / "data"
    _make_source(source)
    destination = f"chdb://{tmp_path / 'chdb'}"
    checkpoint = tmp_path / "checkpoint.json"
    args = ["migrate", "--from", str(source), "--to", destination, "--checkpoint", str(checkpoint)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREADCRUMBS_")}
    # Small windows, so the copy takes many of them and the kill lands inside it.
    slow = [*args, "--window-traces", "10"]
    with (tmp_path / "killed.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from breadcrumbs.cli import app; app()", *slow],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + KILL_TIMEOUT_S
    state = None
    while time.monotonic() < deadline and process.poll() is None:
        state = _checkpoint(checkpoint)
        if state and state["copied"] > 0 and state["done_ns"] < state["end_ns"]:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state is not None, "no checkpoint before the copy ended"
    assert 0 < state["copied"] < TRACES * SPANS_PER_TRACE, state

    resumed = ok(*args)
    assert "(resuming: " in resumed.stdout, resumed.stdout  # the kill may outrun our last read
    assert "every count equal" in resumed.stdout, resumed.stdout
    assert f"Source spans        {TRACES * SPANS_PER_TRACE:,}" in resumed.stdout

    # Every span, once, every field: the destination exported next to the source.
    copied, original = tmp_path / "copied.jsonl", tmp_path / "original.jsonl"
    ok("export", str(copied), "--store", destination)
    ok("export", str(original), "--data-dir", str(source))
    assert len(rows(read(copied))) == TRACES * SPANS_PER_TRACE
    assert rows(read(copied)) == rows(read(original))

    # Once finished, a run copies nothing and checks again.
    again = ok(*args)
    assert "Copied now          0" in again.stdout
    assert "every count equal" in again.stdout


def test_a_checkpoint_of_another_copy_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "data"
    _make_source(source)
    checkpoint = tmp_path / "checkpoint.json"
    ok("migrate", "--from", str(source), "--to", f"chdb://{tmp_path / 'one'}", "--checkpoint",
       str(checkpoint), "--no-check")  # fmt: skip
    other = cli("migrate", "--from", str(source), "--to", f"chdb://{tmp_path / 'two'}",
                "--checkpoint", str(checkpoint))  # fmt: skip
    assert other.returncode == 2
    assert "--restart" in other.stderr
    missing = cli("migrate", "--from", str(tmp_path / "nothing"), "--to", "chdb:///tmp/x")
    assert missing.returncode == 2
    assert "no spans.duckdb" in missing.stderr
