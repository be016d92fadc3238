from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from breadcrumbs.demo.loadgen import Stats, random_order
from breadcrumbs.demo.menu_data import SKUS
from breadcrumbs.demo.runtime import route_namer
from breadcrumbs.demo.scenarios import SCENARIOS, ScenarioFile, validate
from breadcrumbs.demo.services import SERVICES, UNTRACED


def test_shop_has_enough_services() -> None:
    assert len(SERVICES) - len(UNTRACED) >= 12
    assert next(iter(SERVICES)) == "gateway"


def test_validate_keeps_order_and_refuses_unknown() -> None:
    assert validate(["slow-db", "cascade", "slow-db"]) == ["slow-db", "cascade"]
    with pytest.raises(ValueError, match="unknown scenario 'slow-dbb'"):
        validate(["slow-dbb"])


def test_scenario_file_round_trip_and_reload(tmp_path: Path) -> None:
    writer, reader = ScenarioFile(tmp_path / "s.json"), ScenarioFile(tmp_path / "s.json")
    assert reader.active() == frozenset()
    writer.write(["payment-div-zero"])
    assert "payment-div-zero" in reader
    writer.write(list(SCENARIOS))
    assert reader.active() == frozenset(SCENARIOS)
    writer.write([])
    assert reader.active() == frozenset()


def test_server_spans_are_named_by_route_template() -> None:
    async def endpoint(request: object) -> PlainTextResponse:
        return PlainTextResponse("")

    app = Starlette(routes=[Route("/points/{user_id:int}", endpoint)])
    namer = route_namer(app)
    scope = {"type": "http", "method": "GET", "path": "/points/1042", "root_path": ""}
    assert namer(scope) == ("GET /points/{user_id}", {"http.route": "/points/{user_id}"})
    assert namer({**scope, "path": "/nowhere"}) == ("GET", {})


def test_random_orders_are_well_formed() -> None:
    rng = random.Random(1)
    orders = [random_order(rng) for _ in range(200)]
    assert all(o["token"].startswith("tok-") for o in orders)
    assert all(1 <= len(o["items"]) <= 3 for o in orders)
    assert {i["sku"] for o in orders for i in o["items"]} == set(SKUS)
    assert any(sum(i["qty"] for i in o["items"]) >= 5 for o in orders)  # slow-db needs them


def test_stats_percentiles() -> None:
    stats = Stats()
    for ms in range(1, 101):
        stats.record("200", ms / 1000)
    assert stats.percentile(0.5) == pytest.approx(51)
    assert stats.percentile(0.95) == pytest.approx(96)
    assert "200=100" in stats.line()


@given(st.lists(st.sampled_from(sorted(SCENARIOS))))
def test_validate_is_dedup_in_order(names: list[str]) -> None:
    assert validate(names) == list(dict.fromkeys(names))


@given(st.lists(st.text(max_size=30)))
def test_validate_accepts_only_known_names(names: list[str]) -> None:
    if set(names) <= set(SCENARIOS):
        assert validate(names) == list(dict.fromkeys(names))
    else:
        with pytest.raises(ValueError, match="unknown scenario"):
            validate(names)
