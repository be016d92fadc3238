"""``breadcrumbs export`` and ``import`` as a user runs them, against real server processes
and real stores on a temp dir: a round trip gives back every span, field for field."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.portability.spans import rows
from tests.store import world

from breadcrumbs.model import SpanBatch, batch_from_spans, concat_batches
from breadcrumbs.portability.lines import decode_lines, encode_lines, open_for_reading

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

SERVER_ARGS = ("--retention", "0")  # the world's spans are from 2023


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BREADCRUMBS_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-c", "from breadcrumbs.cli import app; app()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = cli(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def read(path: Path) -> SpanBatch:
    with open_for_reading(path) as stream:
        return concat_batches([line.spans for line in decode_lines(stream)])


def wait_for_world(server: ServerProcess) -> None:
    for trace_id in world.TRACES.values():
        server.wait_for_spans(trace_id, len(world.spans_of(*_name(trace_id))))


def _name(trace_id: str) -> str:
    return next(name for name, found in world.TRACES.items() if found == trace_id)


def test_round_trip_through_servers_and_stores(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    expected = rows(world.world_batch())
    source = tmp_path / "world.jsonl"
    source.write_bytes(b"".join(encode_lines(world.world_batch(), spans_per_line=5)))

    # Into a running server through its OTLP endpoint, out through its API.
    first = server_factory(tmp_path / "a", *SERVER_ARGS).start()
    done = ok("import", str(source), "--endpoint", first.otlp_http_url)
    assert f"Imported {len(expected)} of {len(expected)} spans" in done.stdout
    wait_for_world(first)
    backup = tmp_path / "a.jsonl.gz"
    ok("export", str(backup), "--server", first.http_url)
    assert backup.read_bytes()[:2] == b"\x1f\x8b"
    assert rows(read(backup)) == expected

    # A bug report: one trace; the running server's store file is locked for others.
    report = tmp_path / "report.jsonl"
    ok("export", str(report), "--server", first.http_url, "--trace-id", world.TRACES["B"].upper())
    assert rows(read(report)) == rows(batch_from_spans(world.spans_of("B")))
    locked = cli("export", str(tmp_path / "x.jsonl"), "--data-dir", str(first.data_dir))
    assert locked.returncode == 2
    assert "A server is running on this store" in locked.stderr

    # The stopped server's store read directly gives the same spans.
    assert first.stop() == 0
    offline = tmp_path / "a-offline.jsonl"
    ok("export", str(offline), "--data-dir", str(first.data_dir))
    assert rows(read(offline)) == expected

    # Restored into a fresh server, then read from its store once it stopped.
    second = server_factory(tmp_path / "b", *SERVER_ARGS).start()
    ok("import", str(backup), "--endpoint", second.otlp_http_url)
    wait_for_world(second)
    assert second.stop() == 0
    restored = tmp_path / "b.jsonl"
    ok("export", str(restored), "--data-dir", str(second.data_dir))
    assert rows(read(restored)) == expected

    # Straight into a store no server holds, and out again.
    direct = tmp_path / "c"
    ok("import", str(offline), "--data-dir", str(direct))
    again = tmp_path / "c.jsonl"
    ok("export", str(again), "--data-dir", str(direct))
    assert rows(read(again)) == expected
    assert again.read_bytes() == offline.read_bytes()  # the same store content, the same file


def test_time_and_service_filters(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "world.jsonl"
    source.write_bytes(b"".join(encode_lines(world.world_batch())))
    ok("import", str(source), "--endpoint", server.otlp_http_url)
    wait_for_world(server)
    window = tmp_path / "window.jsonl"
    since, until = world.T0 + 2000 * world.MS, world.T0 + 3000 * world.MS
    ok(
        "export",
        str(window),
        "--server",
        server.http_url,
        "--since",
        str(since),
        "--until",
        str(until),
    )
    assert rows(read(window)) == [
        s for s in rows(world.world_batch()) if since <= s["Timestamp"] < until
    ]
    payment = tmp_path / "payment.jsonl"
    ok("export", str(payment), "--server", server.http_url, "--service", "payment")
    assert rows(read(payment)) == rows(batch_from_spans(world.spans_of("B", "G")))


def test_bad_input_is_named(server: ServerProcess, tmp_path: Path) -> None:
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(next(encode_lines(world.world_batch()))[:100])
    done = cli("import", str(torn), "--endpoint", server.otlp_http_url)
    assert done.returncode == 1
    assert "line 1" in done.stderr
    gone = cli("import", str(tmp_path / "missing.jsonl"), "--endpoint", server.otlp_http_url)
    assert gone.returncode == 2
    assert "no such file" in gone.stderr
    into_collector = cli("import", str(torn), "--store", f"chdb://{tmp_path}/c?layout=otel")
    assert into_collector.returncode == 2
    assert "read-only" in into_collector.stderr
    nobody = cli("export", str(tmp_path / "x.jsonl"), "--server", "http://127.0.0.1:9")
    assert nobody.returncode == 2
    assert "Is `breadcrumbs serve` running?" in nobody.stderr
