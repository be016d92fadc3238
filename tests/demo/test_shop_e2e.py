"""The whole shop, every scenario at once, against a real breadcrumbs server.

The test sends its own orders with a known ``traceparent`` so each story has a trace id to
read back through the Jaeger API. The scenarios are chosen so they do not hide each other:
cascade fails only açaí orders, payment-div-zero only regulars' carts (user id % 5 == 0),
slow-db only orders of 5+ items; the others slow things down without failing them.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.demo.conftest import running_shop
from typer.testing import CliRunner

from breadcrumbs.demo.cli import demo_app
from breadcrumbs.demo.loadgen import LoadGenerator
from breadcrumbs.demo.scenarios import SCENARIOS
from breadcrumbs.demo.services import SERVICES, UNTRACED
from breadcrumbs.demo.services.delivery_scheduling import CARGO_QUERY
from breadcrumbs.demo.shop import Shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_S = 30.0
Span = dict[str, Any]

ORDERS: dict[str, dict[str, Any]] = {
    "plain": {"token": "tok-1001", "items": [{"sku": "vegan-kale", "qty": 1}], "outfit": "linen"},
    "large": {
        "token": "tok-1002",
        "items": [{"sku": "green-glow", "qty": 3}, {"sku": "oat-latte", "qty": 3}],
        "outfit": "suit",
    },
    "regular": {"token": "tok-1005", "items": [{"sku": "chia-pudding", "qty": 2}]},
    "acai": {"token": "tok-1003", "items": [{"sku": "acai-bowl", "qty": 1}]},
}


class Trace:
    def __init__(self, data: dict[str, Any]) -> None:
        self.id: str = data["traceID"]
        self.spans: list[Span] = data["spans"]
        self.services: dict[str, str] = {
            pid: p["serviceName"] for pid, p in data["processes"].items()
        }
        self.by_id: dict[str, Span] = {s["spanID"]: s for s in self.spans}

    def service(self, span: Span) -> str:
        return self.services[span["processID"]]

    def find(self, service: str, name: str | None = None, **tags: Any) -> list[Span]:
        return [
            s
            for s in self.spans
            if self.service(s) == service
            and (name is None or s["operationName"] == name)
            and all(tag(s, k) == v for k, v in tags.items())
        ]

    def parent(self, span: Span) -> Span | None:
        for ref in span.get("references", []):
            if ref["refType"] == "CHILD_OF" and ref["spanID"] in self.by_id:
                return self.by_id[ref["spanID"]]
        return None

    def children(self, span: Span) -> list[Span]:
        return [s for s in self.spans if self.parent(s) is span]


def tag(span: Span, key: str) -> Any:
    return next((t["value"] for t in span["tags"] if t["key"] == key), None)


def exception_fields(span: Span) -> list[dict[str, Any]]:
    return [
        {f["key"]: f["value"] for f in log["fields"]}
        for log in span.get("logs", [])
        if any(f["key"] == "exception.type" for f in log["fields"])
    ]


@pytest.fixture(scope="module")
def shop(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with running_shop(server, tmp_path_factory.mktemp("shop"), SCENARIOS) as running:
        yield running


def order(shop: Shop, name: str) -> tuple[str, httpx.Response]:
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    response = httpx.post(
        shop.gateway_url + "/orders", json=ORDERS[name], headers=headers, timeout=30
    )
    return trace_id, response


def wait_trace(server: ServerProcess, trace_id: str, ready: Callable[[Trace], bool]) -> Trace:
    deadline = time.monotonic() + WAIT_S
    last: Trace | None = None
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.http_url}/api/traces/{trace_id}", timeout=10)
        if response.status_code == 200 and response.json()["data"]:
            last = Trace(response.json()["data"][0])
            if ready(last):
                return last
        time.sleep(0.2)
    names = sorted((last.service(s), s["operationName"]) for s in last.spans) if last else []
    raise AssertionError(f"trace {trace_id} incomplete after {WAIT_S} s: {names}")


# The services an order that succeeds passes through.
FULL_ORDER = frozenset(
    {
        "gateway", "auth", "fashion-critic", "menu", "cache", "inventory", "pricing",
        "payment", "loyalty", "fraud-check", "delivery-scheduling", "notifications",
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def stories(shop: Shop, server: ServerProcess) -> dict[str, tuple[Trace, httpx.Response]]:
    sent = {name: order(shop, name) for name in ORDERS}
    done: dict[str, tuple[Trace, httpx.Response]] = {}
    for name, (trace_id, response) in sent.items():

        def ready(t: Trace, name: str = name) -> bool:
            if name in ("plain", "large"):
                # Each service exports on its own timer (the SDK's batch processor, 5 s): the
                # queue consumer, last in the flow, may report before the services before it.
                return bool(
                    t.find("notifications", "process order-events")
                    and t.find("delivery-scheduling", "POST /schedule")
                    and {t.service(s) for s in t.spans} >= FULL_ORDER
                )
            if name == "regular":
                return bool(t.find("payment", "POST /charge"))
            return len(t.find("inventory", "POST /reserve")) == 3

        done[name] = (wait_trace(server, trace_id, ready), response)
    return done


def test_every_instrumented_service_reports_and_legacy_does_not(
    stories: dict[str, tuple[Trace, httpx.Response]], server: ServerProcess
) -> None:
    services = set(server.get_json("/api/services")["data"])
    assert services >= set(SERVICES) - UNTRACED
    assert not services & UNTRACED


def test_parent_child_links_across_http_and_the_queue(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    trace, response = stories["plain"]
    assert response.status_code == 200, response.text
    edges = set()
    for span in trace.spans:
        parent = trace.parent(span)
        if parent is not None and trace.service(parent) != trace.service(span):
            edges.add((trace.service(parent), trace.service(span), tag(span, "span.kind")))
    assert edges >= {
        ("gateway", "auth", "server"),
        ("gateway", "fashion-critic", "server"),
        ("gateway", "menu", "server"),
        ("menu", "cache", "server"),
        ("gateway", "inventory", "server"),
        ("gateway", "pricing", "server"),
        ("gateway", "payment", "server"),
        ("payment", "loyalty", "server"),
        ("payment", "fraud-check", "server"),
        ("gateway", "delivery-scheduling", "server"),
        ("gateway", "notifications", "consumer"),
    }
    for span in trace.spans:  # every cross-service server span hangs off a client span
        parent = trace.parent(span)
        if tag(span, "span.kind") == "server" and parent is not None:
            assert tag(parent, "span.kind") == "client"
    (consumer,) = trace.find("notifications", "process order-events")
    producer = trace.parent(consumer)
    assert producer is not None
    assert tag(producer, "span.kind") == "producer"
    assert tag(consumer, "messaging.consumer.group.name") == "email"
    for span in trace.spans:  # W3C baggage set by the gateway after auth reaches everyone
        if tag(span, "span.kind") == "server" and trace.service(span) not in ("gateway", "auth"):
            assert tag(span, "user.id") == "1001", trace.service(span)
    (server_span,) = trace.find("auth", "POST /verify")
    assert tag(server_span, "http.route") == "/verify"
    (query,) = trace.find("auth", "SELECT")
    assert tag(query, "db.system") == "sqlite"
    assert tag(query, "db.query.text") == "SELECT user_id FROM sessions WHERE token = ?"


def test_batch_consumer_links_to_each_message(
    stories: dict[str, tuple[Trace, httpx.Response]], server: ServerProcess
) -> None:
    producers = {
        (t.id, s["spanID"])
        for t, _ in (stories["plain"], stories["large"])
        for s in t.find("gateway", "send order-events")
    }
    deadline = time.monotonic() + WAIT_S
    linked: set[tuple[str, str]] = set()
    while time.monotonic() < deadline and not producers <= linked:
        data = server.get_json("/api/traces", service="notifications", limit=200)["data"]
        for raw in data:
            for span in raw["spans"]:
                if tag(span, "messaging.consumer.group.name") != "daily-digest":
                    continue
                assert tag(span, "messaging.batch.message_count") >= 1
                linked |= {
                    (r["traceID"], r["spanID"])
                    for r in span.get("references", [])
                    if r["refType"] == "FOLLOWS_FROM"
                }
        time.sleep(0.3)
    assert producers <= linked


def test_legacy_pricing_is_only_a_peer_and_times_out(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    trace, _ = stories["plain"]
    (call,) = trace.find("pricing", **{"peer.service": "legacy-pricing"})
    assert tag(call, "span.kind") == "client"
    assert tag(call, "server.address") == "127.0.0.1"
    assert tag(call, "error.type") == "timeout"  # third-party-timeout
    assert trace.children(call) == []  # nobody answers from inside legacy-pricing
    assert exception_fields(call)[0]["exception.type"] == "TimeoutError"


def test_cache_lock_wait_is_its_own_span(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    waits = [
        (trace, wait)
        for trace, _ in stories.values()
        for wait in trace.find("cache", "cache.lock.wait")
    ]
    assert waits
    for trace, wait in waits:
        parent = trace.parent(wait)
        assert parent is not None
        assert parent["operationName"] == "GET /cache/{key}"
        assert tag(wait, "lock.name") == "shard-0"
        assert tag(wait, "lock.wait_ms") is not None


def test_slow_query_for_the_large_order(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    trace, response = stories["large"]
    assert response.status_code == 200, response.text
    (schedule,) = trace.find("delivery-scheduling", "POST /schedule")
    assert tag(schedule, "order.item_count") == 6
    queries = [s for s in trace.spans if tag(s, "db.system") == "sqlite"]
    slowest = max(queries, key=lambda s: s["duration"])
    assert tag(slowest, "db.query.text") == CARGO_QUERY
    assert trace.parent(slowest) is schedule


def test_division_by_zero_where_payment_splits_the_charge(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    trace, response = stories["regular"]
    assert response.status_code == 502
    failed = [s for s in trace.spans if exception_fields(s)]
    origin = [s for s in failed if s["operationName"].endswith("payment.per_item_charge")]
    assert len(origin) == 1
    assert trace.service(origin[0]) == "payment"
    (fields,) = exception_fields(origin[0])
    assert fields["exception.type"] == "ZeroDivisionError"
    assert "return amount_cents / (items - free_items)" in fields["exception.stacktrace"]
    assert tag(origin[0], "error") is True
    (root,) = trace.find("gateway", "POST /orders")
    assert tag(root, "error") is True


def test_inventory_failure_cascades_through_retries(
    stories: dict[str, tuple[Trace, httpx.Response]],
) -> None:
    trace, response = stories["acai"]
    assert response.status_code == 502
    attempts = trace.find("inventory", "POST /reserve")
    assert len(attempts) == 3
    for attempt in attempts:
        assert tag(attempt, "error") is True
        (origin,) = [c for c in trace.children(attempt) if exception_fields(c)]
        assert exception_fields(origin)[0]["exception.type"].endswith("StockUnavailableError")
    (retries,) = trace.find("gateway", "reserve stock")
    assert tag(retries, "retry.attempts") == 3
    assert exception_fields(retries)[0]["exception.type"].endswith("OrderFailedError")
    assert not trace.find("payment")  # the order never got that far


def test_broken_propagation_splits_the_trace(
    stories: dict[str, tuple[Trace, httpx.Response]], server: ServerProcess
) -> None:
    trace, _ = stories["plain"]
    (schedule,) = trace.find("delivery-scheduling", "POST /schedule")
    calls = [c for c in trace.children(schedule) if tag(c, "http.request.method") == "POST"]
    assert len(calls) == 1
    assert trace.children(calls[0]) == []  # the courier-matching half is elsewhere
    assert not trace.find("courier-matching")
    orphans = server.get_json("/api/traces", service="courier-matching", limit=50)["data"]
    assert orphans
    for raw in orphans:
        split = Trace(raw)
        assert {split.service(s) for s in split.spans} == {"courier-matching"}
        (root,) = [s for s in split.spans if split.parent(s) is None]
        assert root["operationName"] == "POST /match"


def test_bad_span_names_in_loyalty(stories: dict[str, tuple[Trace, httpx.Response]]) -> None:
    trace, _ = stories["plain"]
    (points,) = [s for s in trace.find("loyalty") if tag(s, "span.kind") == "server"]
    assert re.fullmatch(r"GET /points/\d+", points["operationName"])
    assert [c["operationName"] for c in trace.children(points)] == ["DoSomething"]


def test_scenarios_switch_at_runtime_and_traffic_flows(
    stories: dict[str, tuple[Trace, httpx.Response]], shop: Shop
) -> None:
    runner = CliRunner()
    result = runner.invoke(demo_app, ["scenario", "set", "--gateway", shop.gateway_url])
    assert result.exit_code == 0, result.output
    _, response = order(shop, "acai")
    assert response.status_code == 200, response.text  # cascade is off now
    result = runner.invoke(
        demo_app, ["scenario", "set", "slow-db", "cascade", "--gateway", shop.gateway_url]
    )
    assert result.exit_code == 0, result.output
    assert shop.set_scenarios([]) == []
    assert shop.set_scenarios(["cascade"]) == ["cascade"]
    _, response = order(shop, "acai")
    assert response.status_code == 502
    result = runner.invoke(demo_app, ["scenario", "list", "--gateway", shop.gateway_url])
    assert result.exit_code == 0
    assert "cascade" in result.output

    generator = LoadGenerator(shop.gateway_url, rate=20.0, seed=5)
    stats = asyncio.run(generator.run(asyncio.Event(), limit=6))
    assert stats.sent == 6
    assert sum(stats.outcomes.values()) == 6
    assert set(stats.outcomes) <= {"200", "402", "502"}
