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
from typing import TYPE_CHECKING

import pytest
from tests.demo.sampling import gateway_red, gateway_roots, tags, tail_metrics, until

from breadcrumbs.demo.loadgen import LoadGenerator
from breadcrumbs.demo.shop import Shop, head_sampling_env, start_shop
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
    env = head_sampling_env(server.sampling_url, polling_interval_s=0.5)
    running = start_shop(
        otlp_endpoint=server.otlp_http_url,
        base_port=0,
        state_dir=tmp_path_factory.mktemp("shop"),
        env={**env, "OTEL_BSP_SCHEDULE_DELAY": "200"},
    )
    try:
        yield running
    finally:
        running.stop()


def test_head_and_tail_sampled_counts_stay_true(server: ServerProcess, shop: Shop) -> None:
    assert shop.set_scenarios(["cascade"]) == ["cascade"]  # açaí orders fail with a 502
    time.sleep(2.0)  # a few polls: every service has its strategy (until then it keeps all)
    stats = asyncio.run(
        LoadGenerator(shop.gateway_url, rate=4.0, seed=15).run(asyncio.Event(), limit=REQUESTS)
    )
    assert stats.sent == REQUESTS
    assert any(outcome.startswith("5") for outcome in stats.outcomes), stats.outcomes

    def settled() -> bool:
        waiting = tail_metrics(server).get("breadcrumbs_tail_sampling_traces_waiting")
        return waiting == 0 and gateway_red(server)[0] >= 0.8 * REQUESTS

    until(settled, lambda: f"RED {gateway_red(server)}, tail {tail_metrics(server)}")
    time.sleep(2.0)  # the last flushes of every stage
    requests, errors = gateway_red(server)
    # The estimate of real traffic, from ~80% of the traces.
    assert abs(requests - REQUESTS) <= 0.1 * REQUESTS, (requests, stats.outcomes)

    roots = gateway_roots(server)
    states = {str(tags(span).get("w3c.tracestate", "")) for span in roots.values()}
    head_kept = [s for s in states if threshold.of_tracestate(s)]
    assert head_kept, states  # the gateway's spans record their head probability
    failing = [s for s in roots.values() if tags(s).get("error") is True]
    assert failing
    for span in failing:  # kept by the error policy, weight untouched by the tail
        assert tags(span)["breadcrumbs.sampling.policy"] == "error"
        state = str(tags(span).get("w3c.tracestate", ""))
        assert threshold.probability(threshold.of_tracestate(state)) == pytest.approx(
            HEAD_P, abs=1e-3
        )
    # Every error trace that reached breadcrumbs is stored: RED's errors (each weighted 1/p)
    # are exactly the stored failing roots, each standing for 1/p.
    assert errors == round(len(failing) / HEAD_P) or abs(errors - len(failing) / HEAD_P) < 1
    # Healthy traces are thinned by the tail: far fewer stored than arrived.
    healthy_arrived = (requests - errors) * HEAD_P
    healthy_stored = len(roots) - len(failing)
    assert healthy_stored <= 0.4 * healthy_arrived, (healthy_stored, healthy_arrived)
