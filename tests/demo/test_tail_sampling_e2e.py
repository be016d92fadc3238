"""The demo shop under load against ``breadcrumbs serve --tail-sampling-rate 0.1``: every
error trace is kept, healthy traces are thinned to about the rate, and RED (computed before
the sampler drops anything) still counts the requests the load generator sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from breadcrumbs.demo.loadgen import LoadGenerator
from breadcrumbs.demo.shop import Shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POLICIES = Path(__file__).with_name("tail_sampling_policies.toml")
SERVER_ARGS = ("--tail-sampling-rate", "0.1", "--tail-sampling-policy", str(POLICIES))
REQUESTS = 120
WAIT_S = 90.0  # generous for a loaded 2-core CI machine


def _until(check: Callable[[], Any], what: str | Callable[[], str]) -> Any:
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


def _metrics(server: ServerProcess) -> dict[str, float]:
    """The tail sampler's samples on /metrics, by their full name with labels."""
    text = httpx.get(server.http_url + "/metrics", timeout=10.0).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("breadcrumbs_tail_sampling_")
    }


def _gateway_red(server: ServerProcess) -> tuple[int, int]:
    """Requests and errors of the gateway's server spans, from RED (counted before the
    sampler drops anything)."""
    body = server.get_json(
        "/api/x/red", service="gateway", spanKind="server", groupBy="service", lookback="1h"
    )
    totals = [series["totals"] for series in body["series"]]
    return int(sum(t["calls"] for t in totals)), int(sum(t["errors"] for t in totals))


def _roots(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Trace id -> the gateway's root span (Jaeger JSON) of every stored gateway trace."""
    found = server.get_json("/api/traces", service="gateway", limit=10_000, lookback="1h")
    roots: dict[str, dict[str, Any]] = {}
    for trace in found["data"]:
        for span in trace["spans"]:
            if not span["references"]:
                roots[trace["traceID"]] = span
    return roots


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_errors_kept_healthy_thinned_red_true(server: ServerProcess, shop: Shop) -> None:
    assert shop.set_scenarios(["cascade"]) == ["cascade"]  # açaí orders fail with a 502
    stats = asyncio.run(
        LoadGenerator(shop.gateway_url, rate=4.0, seed=14).run(asyncio.Event(), limit=REQUESTS)
    )
    failed = sum(count for outcome, count in stats.outcomes.items() if outcome.startswith("5"))
    assert stats.sent == REQUESTS
    assert failed > 0, stats.outcomes  # the scenario is on: there are error traces to keep

    # RED counts every request although most traces are dropped (within 10%: each request
    # the gateway served is one server span, none lost, none counted twice).
    _until(lambda: _gateway_red(server)[0] >= 0.9 * REQUESTS, "RED of the requests sent")
    requests, errors = _gateway_red(server)
    assert abs(requests - REQUESTS) <= 0.1 * REQUESTS, (requests, stats.outcomes)
    assert errors >= failed

    def settled() -> dict[str, float] | None:
        samples = _metrics(server)
        return samples if samples.get("breadcrumbs_tail_sampling_traces_waiting") == 0 else None

    _until(settled, "every trace decided")

    def errors_stored() -> dict[str, dict[str, Any]] | None:
        roots = _roots(server)
        failing = {t: s for t, s in roots.items() if _tags(s).get("error") is True}
        return roots if len(failing) >= errors else None

    def found() -> str:
        roots = _roots(server)
        failing = sum(_tags(s).get("error") is True for s in roots.values())
        return f"{failing} of {errors} error traces stored; {_metrics(server)}"

    roots = _until(errors_stored, found)
    policy = {t: _tags(s)["breadcrumbs.sampling.policy"] for t, s in roots.items()}
    failing = {t for t, s in roots.items() if _tags(s).get("error") is True}
    assert len(failing) == errors  # every error trace RED counted, stored once
    assert {policy[t] for t in failing} == {"error"}

    # Healthy traces: about 10% kept at random (chosen by trace id), plus the slow ones.
    healthy = REQUESTS - errors
    at_random = {t for t, p in policy.items() if p == "probabilistic"}
    assert all(int(t[:14], 16) < 0.1 * 2**56 for t in at_random)
    assert 0.03 * healthy <= len(at_random) <= 0.2 * healthy, len(at_random)
    kept_healthy = {t for t in roots if t not in failing}
    assert len(kept_healthy) <= 0.35 * healthy  # thinned: errors, slow and ~10% of the rest
    samples = _metrics(server)
    dropped = samples['breadcrumbs_tail_sampling_traces_total{decision="dropped",policy="none"}']
    assert dropped >= 0.6 * healthy
