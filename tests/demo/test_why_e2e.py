"""``breadcrumbs why`` names the injected cause on the real demo shop, through a real server.

One shop for the module, its scenarios switched at runtime. Each test sends its own orders
(with a known ``traceparent``, to wait for them to arrive) and reads the CLI's text output,
as a user at 3 a.m. would: no JSON.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.demo.shop import Shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_S = 60.0
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def cart(items: int) -> dict[str, Any]:
    """An order of ``items`` items over at most three lines."""
    skus = ["vegan-kale", "green-glow", "oat-latte"]
    lines = [items // 3 + (1 if i < items % 3 else 0) for i in range(3)]
    return {
        "token": "tok-1001",
        "items": [{"sku": sku, "qty": qty} for sku, qty in zip(skus, lines, strict=True) if qty],
        "outfit": "linen",
    }


def send_orders(shop: Shop, item_counts: list[int]) -> list[str]:
    sent = []
    for items in item_counts:
        trace_id = secrets.token_hex(16)
        headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
        httpx.post(shop.gateway_url + "/orders", json=cart(items), headers=headers, timeout=60)
        sent.append(trace_id)
    return sent


def wait_for(server: ServerProcess, trace_ids: list[str], service: str, name: str) -> None:
    """Every trace holds a span ``name`` of ``service`` (bounded poll)."""
    deadline = time.monotonic() + WAIT_S
    waiting = list(trace_ids)
    while waiting:
        response = httpx.get(f"{server.http_url}/api/traces/{waiting[0]}", timeout=10)
        if response.status_code == 200:
            data = response.json()["data"][0]
            services = {p: v["serviceName"] for p, v in data["processes"].items()}
            if any(
                services[s["processID"]] == service and s["operationName"] == name
                for s in data["spans"]
            ):
                waiting.pop(0)
                continue
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(waiting)} traces lack {service} {name!r} after {WAIT_S} s")
        time.sleep(0.2)


def traces_of(server: ServerProcess, service: str) -> int:
    """How many traces of ``service`` the last 15 minutes hold (what ``why`` will weigh)."""
    params = {"service": service, "lookback": "15m", "limit": "1500"}
    response = httpx.get(f"{server.http_url}/api/traces", params=params, timeout=30)
    response.raise_for_status()
    return len(response.json()["data"])


def why(server: ServerProcess, *args: str) -> str:
    result = runner.invoke(app, ["why", "--server", server.http_url, "--lookback", "15m", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_slow_db_points_at_large_orders_and_the_cargo_select(
    shop: Shop, server: ServerProcess
) -> None:
    shop.set_scenarios(["slow-db"])
    orders = [1, 5, 2, 3, 6, 4, 1, 2, 5, 3, 4, 6, 1, 2, 3, 5, 4, 2, 6, 1, 3, 5, 2, 4]
    sent = send_orders(shop, orders)
    wait_for(server, sent, "delivery-scheduling", "SELECT")
    # The module's other test may have run first (the chDB module imports them in another
    # order): its orders are all fast here, so they only widen the fast side.
    weighed = traces_of(server, "delivery-scheduling")
    assert weighed >= len(orders)
    large = sum(items >= 5 for items in orders)
    share = 100 * (1 - large / weighed)
    output = why(server, "--service", "delivery-scheduling", "--percentile", f"{share:.0f}")
    print(output)
    findings = output.split("Where the extra time goes")[0]
    assert "order.item_count >= 5" in findings, output
    assert "vehicle = 'cargo-bike'" in findings, output
    assert "delivery-scheduling: SELECT" in findings, output
    time_section = output.split("Where the extra time goes")[1].splitlines()
    first = next(i for i, line in enumerate(time_section) if line.strip().startswith("1 "))
    assert "SELECT" in time_section[first], output
    assert "delivery-scheduling" in time_section[first + 1], output  # its service, below


def test_cache_lock_contention_points_at_the_lock_wait(shop: Shop, server: ServerProcess) -> None:
    shop.set_scenarios([])
    before = send_orders(shop, [1, 2, 1, 2, 1, 2, 1, 2, 1, 2])
    shop.set_scenarios(["cache-lock-contention"])
    during = send_orders(shop, [1, 2] * 8)
    wait_for(server, before, "menu", "GET /menu/items")
    wait_for(server, during, "cache", "cache.lock.wait")
    output = why(server, "--service", "menu", "--percentile", "75")
    print(output)
    # The top attribute finding comes from the lock wait spans (their lock.wait_ms or
    # lock.name), which exist only while the janitor hogs the lock.
    findings = output.split("Where the extra time goes")[0].splitlines()
    first = next(i for i, line in enumerate(findings) if line.strip().startswith("1 "))
    # A finding's row, then where it was seen on the line below it.
    assert "cache: cache.lock.wait" in findings[first + 1], output
