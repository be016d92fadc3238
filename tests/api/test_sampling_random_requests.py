"""Random query strings on the sampling endpoints: Jaeger's JSON or a 400, never a 5xx."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import sampling
from breadcrumbs.sampling import strategies_file, wire

STRATEGIES = strategies_file.load(
    Path(__file__).parent.parent / "sampling" / "golden" / "strategies_operation_strategies.json",
    0.001,
)
APP = Starlette(
    routes=[
        *sampling.routes(STRATEGIES),
        *sampling.routes(STRATEGIES, sampling.SAMPLING_PORT_PATHS),
    ]
)
PAIRS = st.lists(
    st.tuples(st.sampled_from(["service", "Service", "operation", ""]), st.text(max_size=30)),
    max_size=4,
)


def get(path: str, params: list[tuple[str, str]]) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            return await client.get(path, params=tuple(params))

    return asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(["/api/sampling", "/sampling", "/"]), pairs=PAIRS)
def test_random_parameters_answer_a_strategy_or_a_400(
    path: str, pairs: list[tuple[str, str]]
) -> None:
    response = get(path, pairs)
    services = [value for name, value in pairs if name == "service"]
    if len(services) == 1 and services[0].strip():
        assert response.status_code == 200, response.text
        assert wire.from_json(response.json()) == STRATEGIES.strategy(services[0])
    else:
        assert response.status_code == 400
        assert "'service' parameter must" in response.text
