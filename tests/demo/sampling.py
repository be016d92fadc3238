"""What the sampling e2e tests read from a real server: RED, the tail sampler's counters,
the stored gateway traces; and a bounded poll."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

WAIT_S = 90.0  # generous for a loaded 2-core CI machine


def until(check: Callable[[], Any], what: str | Callable[[], str]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not within {WAIT_S} s: {what if isinstance(what, str) else what()}"
            )
        time.sleep(0.5)


def tail_metrics(server: ServerProcess) -> dict[str, float]:
    """The tail sampler's samples on /metrics, by their full name with labels."""
    text = httpx.get(server.http_url + "/metrics", timeout=10.0).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("breadcrumbs_tail_sampling_")
    }


def gateway_red(server: ServerProcess) -> tuple[float, float]:
    """Requests and errors of the gateway's server spans, from RED (counted before the
    tail sampler drops anything; estimates, each span counting 1/p, when head-sampled)."""
    body = server.get_json(
        "/api/x/red", service="gateway", spanKind="server", groupBy="service", lookback="1h"
    )
    totals = [series["totals"] for series in body["series"]]
    return sum(t["calls"] for t in totals), sum(t["errors"] for t in totals)


def gateway_roots(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Trace id -> the gateway's root span (Jaeger JSON) of every stored gateway trace."""
    found = server.get_json("/api/traces", service="gateway", limit=1500, lookback="1h")
    roots: dict[str, dict[str, Any]] = {}
    for trace in found["data"]:
        for span in trace["spans"]:
            if not span["references"]:
                roots[trace["traceID"]] = span
    return roots


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}
