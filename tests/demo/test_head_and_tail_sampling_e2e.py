"""The shop sampled at both ends, as issue 14 describes a production setup: every service
takes its head-sampling strategy from breadcrumbs (the gateway keeps 80% of its traces, each
span recording p in ``ot=th:``) and the server tail-samples what arrives (every error, the
slow ones, 10% of the rest). RED still estimates the requests the load generator sent
(each kept span counts 1/p), and every error trace that reached breadcrumbs is stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.demo.conftest import running_shop
from tests.demo.sampling import gateway_red, gateway_roots, tags, tail_metrics, until

from breadcrumbs.demo.loadgen import LoadGenerator
from breadcrumbs.demo.shop import Shop
from breadcrumbs.sampling import threshold

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HERE = Path(__file__).parent
SERVER_ARGS = (
    "--sampling-strategies",
    str(HERE / "head_sampling_strategies.json"),
    "--tail-sampling-rate",
    "0.1",
    "--tail-sampling-policy",
    str(HERE / "tail_sampling_policies.toml"),
)
HEAD_P = 0.8
# 200 requests at p = 0.8: the estimate's relative standard deviation is
# sqrt((1 - p) / (p * n)) = 3.5%, so the 10% the issue allows is ~2.8 of them.
REQUESTS = 200


@pytest.fixture(scope="module")
def shop(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with running_shop(server, tmp_path_factory.mktemp("shop"), head_sampling=True) as running:
        yield running


def test_head_and_tail_sampled_counts_stay_true(server: ServerProcess, shop: Shop) -> None:
    assert shop.set_scenarios(["cascade"]) == ["cascade"]  # açaí orders fail with a 502
    time.sleep(2.0)  # a few polls: every service has its strategy (until then it keeps all)
    stats = asyncio.run(
        LoadGenerator(shop.gateway_url, rate=4.0, seed=15).run(asyncio.Event(), limit=REQUESTS)
    )
    assert stats.sent == REQUESTS
    assert any(outcome.startswith("5") for outcome in stats.outcomes), stats.outcomes

    # Poll until everything is decided, counted and stored: RED estimates the requests sent
    # (from ~80% of the traces), and every failing root RED counted (each standing for 1/p)
    # is stored.
    def arrived() -> tuple[float, float, dict[str, dict[str, Any]]] | None:
        if tail_metrics(server).get("breadcrumbs_tail_sampling_traces_waiting") != 0:
            return None
        requests, errors = gateway_red(server)
        roots = gateway_roots(server)
        failing = sum(tags(span).get("error") is True for span in roots.values())
        if abs(requests - REQUESTS) > 0.1 * REQUESTS or abs(errors - failing / HEAD_P) > 0.1:
            return None
        return requests, errors, roots

    def state() -> str:
        roots = gateway_roots(server)
        failing = sum(tags(span).get("error") is True for span in roots.values())
        return f"RED {gateway_red(server)}, {failing} failing roots stored, {tail_metrics(server)}"

    requests, errors, roots = until(arrived, state)
    states = {str(tags(span).get("w3c.tracestate", "")) for span in roots.values()}
    assert any(threshold.of_tracestate(s) for s in states), states  # p recorded at the head
    failing = [s for s in roots.values() if tags(s).get("error") is True]
    assert failing
    for span in failing:  # kept by the error policy, weight untouched by the tail
        assert tags(span)["breadcrumbs.sampling.policy"] == "error"
        state_ = str(tags(span).get("w3c.tracestate", ""))
        assert threshold.probability(threshold.of_tracestate(state_)) == pytest.approx(
            HEAD_P, abs=1e-3
        )
    # Healthy traces are thinned by the tail (errors, slow ones and 10% of the rest kept).
    healthy_arrived = (requests - errors) * HEAD_P
    healthy_stored = len(roots) - len(failing)
    assert healthy_stored <= 0.5 * healthy_arrived, (healthy_stored, healthy_arrived)
