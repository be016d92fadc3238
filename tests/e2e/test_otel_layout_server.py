"""``serve --store chdb:///dir?layout=otel``: a real server over the Collector exporter's
tables answers the query APIs, says it is read-only, and takes no spans."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from tests.store import world

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

_FILL = """
import sys
from pathlib import Path
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from tests.store import otel_collector, world
executor = ChdbExecutor(Path(sys.argv[1]))
otel_collector.create_tables(executor, "otel")
executor.insert("`otel`.otel_traces", otel_collector.exporter_rows(world.world_batch()))
executor.close()
"""


def test_a_server_reads_the_collectors_tables(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    chdb = tmp_path / "collector-chdb"
    # chDB opens one directory per process: the Collector's rows are written by another one.
    subprocess.run([sys.executable, "-c", _FILL, str(chdb)], check=True, timeout=300)
    server = server_factory(tmp_path / "data", "--store", f"chdb://{chdb}?layout=otel").start()
    log = server.log()
    assert "(read-only)" in log
    assert "off: the OpenTelemetry Collector writes otel_traces" in log
    assert "OTLP HTTP" not in log

    trace = server.get_json(f"/api/traces/{world.TRACES['B']}")["data"][0]
    assert len(trace["spans"]) == len(world.spans_of("B"))
    assert {p["serviceName"] for p in trace["processes"].values()} == {"frontend", "payment"}
    assert server.get_json("/api/services")["data"] == ["cart", "frontend", "payment"]
    start_us, end_us = world.WINDOW_START // 1000, world.WINDOW_END // 1000
    found = server.get_json("/api/traces", service="cart", start=start_us, end=end_us)["data"]
    assert {t["traceID"] for t in found} == {world.TRACES[n] for n in ("A", "C", "F")}
    refused = httpx.post(f"{server.zipkin_url}/api/v2/spans", json=[], timeout=10.0)
    assert refused.status_code == 403
    assert "Collector" in refused.text
    red = httpx.get(f"{server.http_url}/api/x/red", params={"lookback": "1h"}, timeout=10.0)
    assert red.status_code == 501
    assert server.stop() == 0
    assert "Traceback" not in server.log()
