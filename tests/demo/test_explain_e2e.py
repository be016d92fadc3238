"""``breadcrumbs explain`` names the injected cause of the demo shop's failures.

A real server and a real shop (one each for the module); each test switches the shop to one
scenario at runtime, sends an order with a known trace id, waits until the trace is complete
and reads ``explain``'s TEXT output, as a person at a terminal would.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.demo.shop import Shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_S = 60.0  # generous: a loaded 2-core CI machine

ORDERS: dict[str, dict[str, Any]] = {
    "plain": {"token": "tok-1001", "items": [{"sku": "vegan-kale", "qty": 1}], "outfit": "linen"},
    "regular": {"token": "tok-1005", "items": [{"sku": "chia-pudding", "qty": 2}]},
    "acai": {"token": "tok-1003", "items": [{"sku": "acai-bowl", "qty": 1}]},
}


def _order(shop: Shop, scenario: str, name: str) -> str:
    shop.set_scenarios([scenario])
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    httpx.post(shop.gateway_url + "/orders", json=ORDERS[name], headers=headers, timeout=60)
    return trace_id


def _explained(
    server: ServerProcess, trace_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The explain API's answer once ``ready`` says the trace is complete (bounded poll)."""
    deadline = time.monotonic() + WAIT_S
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.http_url}/api/x/traces/{trace_id}/explain", timeout=30)
        if response.status_code == 200:
            last = response.json()
            root = last["summary"]["root"]
            if root and root["name"] == "POST /orders" and ready(last):
                return last
        time.sleep(0.3)
    raise AssertionError(f"trace {trace_id} incomplete after {WAIT_S} s: {last}")


def _explain_text(server: ServerProcess, trace_id: str, columns: int = 200) -> str:
    # a prefix, as copied from a terminal
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(
        app, ["explain", trace_id[:12], "--server", server.http_url]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _origins(data: dict[str, Any]) -> list[dict[str, Any]]:
    origins: list[dict[str, Any]] = data["errors"]["origins"]
    return origins


def test_payment_div_zero(shop: Shop, server: ServerProcess) -> None:
    trace_id = _order(shop, "payment-div-zero", "regular")
    _explained(
        server,
        trace_id,
        lambda d: any(o["exceptionType"] == "ZeroDivisionError" for o in _origins(d)),
    )
    text = _explain_text(server, trace_id)
    assert "✗ ERROR" in text
    assert "started in payment:" in text
    assert "ZeroDivisionError: division by zero" in text
    assert "at per_item_charge (payment.py:" in text
    assert "gateway: POST /orders ✗" in text  # the chain up to the root
    assert "the failure reached the root" in text
    # At 80 columns every line fits, and the cause's lines wrap under their indent.
    narrow = _explain_text(server, trace_id, columns=80)
    lines = narrow.splitlines()
    assert all(len(line) <= 80 for line in lines), narrow
    cause = lines.index(next(line for line in lines if "ZeroDivisionError" in line))
    assert lines[cause - 1].startswith("  ")
    assert lines[cause].startswith("    ZeroDivision")
    assert "at per_item_charge (payment.py:" in narrow
    summary = [line for line in lines[1:] if line and not line[0].isupper()][:4]
    assert all(line.startswith("  ") for line in summary), narrow  # wrapped, still indented


def test_cascade(shop: Shop, server: ServerProcess) -> None:
    trace_id = _order(shop, "cascade", "acai")
    _explained(
        server,
        trace_id,
        lambda d: (
            sum(s["name"] == "POST /reserve" for s in d["criticalPath"]["segments"]) >= 1
            and any(r["attempts"] == 3 for r in d["errors"]["retries"])
            and d["summary"]["errorCount"] >= 7
        ),
    )
    text = _explain_text(server, trace_id)
    assert "started in inventory:" in text
    assert "StockUnavailableError" in text
    assert "inventory: POST /reserve ✗ 500" in text
    assert "gateway: POST /orders ✗ 502" in text
    assert "(x3)" in text  # the three attempts failed alike
    assert "retried: gateway: POST 3 attempts, 3 failed (under gateway: reserve stock)" in text


def test_third_party_timeout(shop: Shop, server: ServerProcess) -> None:
    trace_id = _order(shop, "third-party-timeout", "plain")
    _explained(
        server,
        trace_id,
        lambda d: any(o["service"] == "pricing" for o in _origins(d)),
    )
    text = _explain_text(server, trace_id)
    assert "started in pricing: legacy-pricing GET /tax-rules" in text
    assert "timeout after 0.3s" in text
    assert "(✓ ok: handled here)" in text  # pricing fell back to a default tax rate
    assert "→ legacy-pricing (not traced)" in text  # on the critical path
