"""The shop with head sampling from breadcrumbs: every service polls the server's strategy
through the SDK's remote sampler, the gateway keeps about half its traces as the strategies
file says, and every kept span, in every service of the trace, records p = 1/2."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from tests.demo.conftest import running_shop

from breadcrumbs.demo.shop import Shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REQUESTS = 80
WAIT_S = 30.0


@pytest.fixture(scope="module")
def sampled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.conftest import ServerProcess

    root = tmp_path_factory.mktemp("head-sampling")
    strategies = root / "strategies.json"
    strategies.write_bytes(
        orjson.dumps(
            {
                "default_strategy": {"type": "probabilistic", "param": 1},
                "service_strategies": [
                    {"service": "gateway", "type": "probabilistic", "param": 0.5}
                ],
            }
        )
    )
    server = ServerProcess(root / "data", extra_args=("--sampling-strategies", str(strategies)))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shop(sampled_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with running_shop(
        sampled_server, tmp_path_factory.mktemp("shop"), head_sampling=True
    ) as running:
        yield running


def _gateway_traces(server: ServerProcess) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = server.get_json(
        "/api/traces", service="gateway", operation="GET /menu", limit=1000, lookback="1h"
    )["data"]
    return data


def _tracestate(span: dict[str, Any]) -> str | None:
    for tag in span["tags"]:
        if tag["key"] == "w3c.tracestate":
            return str(tag["value"])
    return None


def test_the_gateway_keeps_about_half_and_every_span_says_so(
    sampled_server: ServerProcess, shop: Shop
) -> None:
    time.sleep(2.0)  # a few polls: every service has its strategy (initially it keeps all)
    with httpx.Client(base_url=shop.gateway_url, timeout=30) as client:
        for _ in range(REQUESTS):
            assert client.get("/menu").status_code == 200
    deadline = time.monotonic() + WAIT_S
    previous = -1
    while (found := len(_gateway_traces(sampled_server))) != previous or found == 0:
        assert time.monotonic() < deadline, "no gateway traces arrived"
        previous = found
        time.sleep(2.0)  # until the count settles
    traces = _gateway_traces(sampled_server)
    # Binomial(80, 1/2): 40 +- 4.5; six sigma either side.
    assert 13 <= len(traces) <= 67, len(traces)
    services = set()
    for trace in traces:
        for span in trace["spans"]:
            services.add(trace["processes"][span["processID"]]["serviceName"])
            assert _tracestate(span) == "ot=th:8", span["operationName"]
    assert {"gateway", "menu"} <= services  # children in other services carry p = 1/2 too
