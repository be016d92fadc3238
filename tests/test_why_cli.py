"""``why``, ``latency`` and ``compare`` in the terminal, against a real server fed over OTLP."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.cli.why import _dropped_key_names

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

runner = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"})
MS = 1_000_000
COUNT = 30


def trace_id(i: int) -> str:
    return f"{0xC11 * 2**100 + i:032x}"


def otlp_span(i: int, n: int, name: str, start: int, ms: int, parent: str = "") -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_id(i),
        "spanId": f"{i + 1:012x}{n:04x}",
        "name": name,
        "kind": 2 if not parent else 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + ms * MS),
        "attributes": [
            {"key": "tier", "value": {"stringValue": "free" if i % 3 == 0 else "paid"}},
            {"key": "order.id", "value": {"stringValue": f"order-{i}"}},  # one per trace
        ],
    }
    if parent:
        span["parentSpanId"] = parent
    return span


@pytest.fixture(scope="module")
def sent(server: ServerProcess) -> None:
    """Every third checkout (tier=free) waits 200 ms on a lock."""
    now = time.time_ns() - 60 * 10**9
    spans = []
    for i in range(COUNT):
        start = now + i * 10 * MS
        slow = i % 3 == 0
        root = f"{i + 1:012x}0001"
        spans.append(otlp_span(i, 1, "POST /checkout", start, 230 if slow else 30))
        spans.append(otlp_span(i, 2, "SELECT", start + MS, 20, root))
        if slow:
            spans.append(otlp_span(i, 3, "lock.wait", start + 22 * MS, 200, root))
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "till"}}]
                },
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }
    response = httpx.post(server.otlp_http_url + "/v1/traces", json=body, timeout=30)
    assert response.status_code == 200, response.text
    server.wait_for_spans(trace_id(COUNT - 1), 2, timeout_s=30)


def run(server: ServerProcess, *args: str) -> str:
    result = runner.invoke(app, [*args, "--server", server.http_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_why_ranks_the_shared_value_and_the_extra_operation(
    server: ServerProcess, sent: None
) -> None:
    output = run(server, "why", "--service", "till", "--slower-than", "100ms")
    assert "10 traces slower than 100ms vs 20 others" in output
    findings = output.split("Operations found more often")[0]
    first = next(line for line in findings.splitlines() if line.strip().startswith("1 "))
    assert "tier = free" in first
    assert "100% ██████████ 10" in first
    assert "0% ░░░░░░░░░░ 0" in first
    assert "lock.wait" in output.split("Operations found more often")[1]
    # where to look next: the newest slow traces, as commands to paste
    looks = output.split("Look at one: the newest slow traces")[1].split()
    assert looks[:3] == ["breadcrumbs", "explain", trace_id(max(range(0, COUNT, 3)))]
    # order.id is on both operations: left out once, by name
    left_out = next(line for line in output.splitlines() if line.startswith("Left out"))
    assert left_out == "Left out, nearly unique per trace: order.id"


def test_left_out_keys_are_named_once_the_most_widespread_first() -> None:
    dropped = [
        {"key": "user.id", "service": "auth"},
        {"key": "order.id", "service": "gateway"},
        {"key": "user.id", "service": "gateway"},
        {"key": "user.id", "service": "gateway"},
        {"key": "user.id", "service": "payment"},
    ]
    assert _dropped_key_names(dropped) == ["user.id (3 services)", "order.id"]


def test_why_in_a_band_of_durations(server: ServerProcess, sent: None) -> None:
    # 20 checkouts of 30 ms, 10 of 230 ms: the band 10-100 ms holds the fast ones.
    output = run(
        server, "why", "--service", "till", "--slower-than", "10ms", "--faster-than", "100ms"
    )
    assert "20 traces between 10ms and 100ms vs 10 others" in output
    assert "whole traces between 10ms and 100ms" in " ".join(output.split())  # same band
    assert "Look at one: the newest in-band traces" in output
    inverted = runner.invoke(
        app,
        ["why", "--service", "till", "--slower-than", "1s", "--faster-than", "10ms",
         "--server", server.http_url],
    )  # fmt: skip
    assert inverted.exit_code == 1
    assert "fasterThan" in inverted.output


def test_latency_shows_two_modes(server: ServerProcess, sent: None) -> None:
    output = run(server, "latency", "--service", "till", "--operation", "POST /checkout")
    assert "30 spans" in output
    assert "histogram" in output
    rows = [line for line in output.splitlines() if "█" in line and "ms-" in line]
    assert [row.split()[1] for row in rows] == ["20", "10"]


def test_compare_two_traces_and_with_the_typical_one(server: ServerProcess, sent: None) -> None:
    output = run(server, "compare", trace_id(0), trace_id(1))
    assert "+200ms longer end to end" in output
    lock_row = next(line for line in output.splitlines() if "lock.wait" in line)
    assert "ONLY IN A" in lock_row
    typical = run(server, "compare", trace_id(0))
    assert "typical trace of the endpoint" in typical
    assert "ONLY IN A" in typical
    itself = run(server, "compare", trace_id(4), trace_id(4))
    assert "No difference" in itself


def test_errors_are_reported_not_raised(server: ServerProcess) -> None:
    result = runner.invoke(app, ["compare", "not-a-trace", "--server", server.http_url])
    assert result.exit_code == 1
    assert "400" in result.output
