"""Each doctor check on hand-built traces: the mistake found, and a healthy shop left alone.

The traces go through a real DuckDB store and the doctor's reads, as in the server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from breadcrumbs.analysis.doctor import CHECKS, Evidence, Finding, Severity, diagnose
from breadcrumbs.analysis.doctor.naming import ID_PATTERN, template
from breadcrumbs.analysis.doctor.sampling import probability
from breadcrumbs.model import Link, SpanKind, StatusCode

from .doctor_world import Shop, evidence

# Always say something, by design: how much data there is, and what cannot be measured.
ALWAYS_INFO = {"sampling.too-few-for-p99", "sampling.errors-lost"}


async def run(check: str, shop: Shop, tmp_path: Path, **kw: int) -> list[Finding]:
    found = CHECKS[check](await evidence(shop, tmp_path, **kw))
    assert all(f.check == check for f in found)
    return found


@pytest.fixture
async def healthy(tmp_path: Path) -> Evidence:
    return await evidence(Shop().healthy(), tmp_path)


@pytest.mark.parametrize("check", sorted(set(CHECKS) - ALWAYS_INFO))
def test_a_healthy_shop_yields_no_finding(check: str, healthy: Evidence) -> None:
    assert CHECKS[check](healthy) == []


def test_a_healthy_shop_yields_nothing_above_info(healthy: Evidence) -> None:
    found = diagnose(healthy)
    assert {f.check for f in found} == ALWAYS_INFO
    assert all(f.severity == Severity.INFO for f in found)


# --- broken propagation ---------------------------------------------------------------------


async def test_a_callee_that_drops_the_context_is_named_with_its_caller(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(8):
        trace = shop.trace_id()
        root = shop.span(trace, "frontend", "GET /track", SpanKind.SERVER, 30_000 + i, 50)
        shop.call(trace, "frontend", root, "courier", "POST /match", 30_001 + i, 40,
                  propagate=False)  # fmt: skip
    (finding,) = await run("propagation.client-without-server", shop, tmp_path)
    assert finding.severity == Severity.HIGH
    assert "frontend → courier" in finding.title
    assert (finding.count, finding.total) == (8, 8)
    assert "started 8 traces of their own" in finding.detail
    assert "OTEL_PROPAGATORS=tracecontext,baggage" in finding.fix
    assert finding.examples[0].service == "frontend"


async def test_a_lost_call_or_two_is_low_not_an_alarm(tmp_path: Path) -> None:
    shop = Shop().healthy(orders=200)
    trace = shop.trace_id()
    root = shop.span(trace, "frontend", "GET /x", SpanKind.SERVER, 900, 10)
    shop.span(trace, "frontend", "GET", SpanKind.CLIENT, 901, 5, root,
              server__address="cart", server__port=8080)  # fmt: skip
    (finding,) = await run("propagation.client-without-server", shop, tmp_path)
    assert finding.severity == Severity.LOW
    assert (finding.count, finding.total) == (1, 201)


async def test_callee_spans_that_never_arrive_are_not_called_a_propagation_break(
    tmp_path: Path,
) -> None:
    shop = Shop().healthy()
    for i in range(8):  # cart's spans for these calls were dropped: no new traces in cart
        trace = shop.trace_id()
        root = shop.span(trace, "frontend", "GET /x", SpanKind.SERVER, 30_000 + i, 10)
        shop.span(trace, "frontend", "GET", SpanKind.CLIENT, 30_001 + i, 5, root,
                  server__address="cart", server__port=8080)  # fmt: skip
    (finding,) = await run("propagation.client-without-server", shop, tmp_path)
    assert finding.title == "frontend → cart: 8 calls have no cart span (29%)"
    assert finding.severity == Severity.MEDIUM  # never high without new traces in cart
    assert "OTEL_BSP_MAX_QUEUE_SIZE" in finding.fix


async def test_calls_to_an_uninstrumented_host_are_not_broken_propagation(
    tmp_path: Path,
) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    root = shop.span(trace, "frontend", "GET /x", SpanKind.SERVER, 900, 10)
    shop.span(trace, "frontend", "GET", SpanKind.CLIENT, 901, 5, root,
              server__address="example.org", server__port=443)  # fmt: skip
    assert await run("propagation.client-without-server", shop, tmp_path) == []


async def test_server_spans_whose_remote_parent_never_arrived(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(6):
        shop.span(shop.trace_id(), "cart", "GET /items", SpanKind.SERVER, 40_000 + i, 5,
                  "00000000deadbeef")  # fmt: skip
    (finding,) = await run("propagation.orphans", shop, tmp_path)
    assert finding.title == "cart: server spans whose remote parent never arrived"
    assert finding.count == 6
    assert "parentbased_traceidratio" in finding.fix


async def test_in_process_orphans_are_told_apart(tmp_path: Path) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    shop.span(trace, "cart", "load", SpanKind.INTERNAL, 40_000, 5, "00000000deadbeef")
    (finding,) = await run("propagation.orphans", shop, tmp_path)
    assert finding.title == "cart: spans whose parent never arrived"
    assert finding.severity == Severity.LOW  # one of many


async def test_a_parent_a_little_outside_the_window_is_not_missing(tmp_path: Path) -> None:
    shop = Shop()
    trace = shop.trace_id()
    root = shop.span(trace, "frontend", "GET /slow", SpanKind.SERVER, -1500, 3000)  # before
    shop.span(trace, "frontend", "step", SpanKind.INTERNAL, 10, 5, root)
    assert await run("propagation.orphans", shop, tmp_path) == []


async def test_children_of_a_root_still_running_are_not_orphans(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(5):  # the last minute: the roots of these traces have not ended yet
        trace = shop.trace_id()
        shop.span(trace, "gateway", "reserve stock", SpanKind.INTERNAL, 570_000 + i, 5,
                  f"{0xfeed + i:016x}")  # fmt: skip
    assert await run("propagation.orphans", shop, tmp_path) == []


async def test_traces_with_several_roots(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(5):
        trace = shop.trace_id()
        shop.span(trace, "frontend", "GET /a", SpanKind.SERVER, 50_000 + i, 5)
        shop.span(trace, "worker", "job", SpanKind.INTERNAL, 50_000 + i, 5)
    (finding,) = await run("propagation.several-roots", shop, tmp_path)
    assert finding.count == 5
    assert finding.severity == Severity.MEDIUM
    assert "frontend, worker" in finding.title


async def test_a_message_that_starts_a_new_trace(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(5):
        shop.span(shop.trace_id(), "mailer", "process orders", SpanKind.CONSUMER,
                  60_000 + i, 5)  # fmt: skip
    (finding,) = await run("propagation.message-new-trace", shop, tmp_path)
    assert "mailer 'process orders'" in finding.title
    assert finding.count == 5
    assert "propagate.inject" in finding.fix


async def test_a_batch_consumer_linking_its_messages_is_fine(tmp_path: Path) -> None:
    shop = Shop().healthy()
    link = Link(f"{1:032x}", f"{2:016x}")
    shop.span(shop.trace_id(), "mailer", "process batch", SpanKind.CONSUMER, 60_000, 5,
              links=(link,))  # fmt: skip
    assert await run("propagation.message-new-trace", shop, tmp_path) == []


# --- span names -----------------------------------------------------------------------------


async def test_ids_in_span_names(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for user in range(1000, 1030):
        shop.span(shop.trace_id(), "loyalty", f"GET /points/{user}", SpanKind.SERVER,
                  70_000 + user, 5, http__route="/points/{user_id}",
                  http__request__method="GET")  # fmt: skip
    (finding,) = await run("naming.ids-in-names", shop, tmp_path)
    assert finding.severity == Severity.HIGH
    assert finding.count == 30
    assert re.search(r"'GET /points/10\d\d'", finding.title)
    assert "'GET /points/{user_id}'" in finding.fix


async def test_full_urls_in_span_names(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for page in ("a", "b"):
        shop.span(shop.trace_id(), "crawler", f"GET https://example.org/{page}",
                  SpanKind.CLIENT, 70_000, 5)  # fmt: skip
    (finding,) = await run("naming.ids-in-names", shop, tmp_path)
    assert "full URLs" in finding.title


async def test_a_few_numbered_names_are_not_ids(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for version in (1, 2):
        shop.span(shop.trace_id(), "api", f"GET /v{version}/menu", SpanKind.SERVER, 1, 5)
    assert await run("naming.ids-in-names", shop, tmp_path) == []


async def test_generic_names(tmp_path: Path) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    server = shop.span(trace, "loyalty", "GET", SpanKind.SERVER, 80_000, 5,
                       http__route="/points/{user_id}", http__request__method="GET")  # fmt: skip
    shop.span(trace, "loyalty", "DoSomething", SpanKind.INTERNAL, 80_001, 2, server)
    shop.span(trace, "loyalty", "handler", SpanKind.INTERNAL, 80_001, 2, server)
    (finding,) = await run("naming.generic-names", shop, tmp_path)
    assert finding.title.startswith("loyalty: span names that say nothing:")
    for name in ("'DoSomething'", "'handler'", "'GET'"):
        assert name in finding.title
    assert "'GET /points/{user_id}'" in finding.fix


async def test_a_client_span_named_by_its_method_follows_the_conventions(
    tmp_path: Path,
) -> None:
    shop = Shop().healthy()  # every call's client span is named GET or POST
    assert {s.name for s in shop.spans if s.kind == SpanKind.CLIENT} >= {"GET"}
    assert await run("naming.generic-names", shop, tmp_path) == []


async def test_a_consumer_named_by_its_operation_follows_the_conventions(
    tmp_path: Path,
) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    send = shop.span(trace, "frontend", "send", SpanKind.PRODUCER, 85_000, 1)
    shop.span(trace, "mailer", "process", SpanKind.CONSUMER, 85_010, 1, send)
    assert await run("naming.generic-names", shop, tmp_path) == []


async def test_one_endpoint_named_two_ways(tmp_path: Path) -> None:
    shop = Shop().healthy()
    shop.span(shop.trace_id(), "cart-v2", "items", SpanKind.SERVER, 90_000, 5,
              http__route="/items", http__request__method="GET")  # fmt: skip
    (finding,) = await run("naming.inconsistent", shop, tmp_path)
    assert finding.title == "GET /items is named 2 ways"
    assert "'items' (cart-v2)" in finding.detail
    assert "'GET /items' (cart)" in finding.detail


async def test_a_service_naming_server_spans_its_own_way(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(4):
        shop.span(
            shop.trace_id(),
            "billing",
            "invoice_handler",
            SpanKind.SERVER,
            95_000 + i * 10,
            5,
            http__route="/invoices",
            http__request__method="POST",
        )
        shop.span(
            shop.trace_id(),
            "billing",
            "GET /health",
            SpanKind.SERVER,
            95_005 + i * 10,
            1,
            http__route="/health",
            http__request__method="GET",
        )
    # ids in names are the ids check's finding, not this one's
    for i in range(6):
        shop.span(
            shop.trace_id(),
            "points",
            f"GET /points/{1000 + i}",
            SpanKind.SERVER,
            96_000 + i * 10,
            5,
            http__route="/points/{id}",
            http__request__method="GET",
        )
    (finding,) = await run("naming.across-services", shop, tmp_path)
    assert finding.title == (
        "billing names its HTTP server spans its own way: 'invoice_handler' for POST /invoices"
    )
    assert (finding.count, finding.severity) == (4, Severity.LOW)
    assert "'cart', 'frontend'" in finding.detail  # the services that follow the convention
    assert "'POST /invoices'" in finding.fix


async def test_no_convention_to_break_when_no_service_follows_it(tmp_path: Path) -> None:
    shop = Shop()
    shop.span(shop.trace_id(), "billing", "invoice_handler", SpanKind.SERVER, 1, 5,
              http__route="/invoices", http__request__method="POST")  # fmt: skip
    assert await run("naming.across-services", shop, tmp_path) == []


def test_the_id_pattern_marks_ids_and_leaves_words() -> None:
    assert template("GET /points/1042") == "GET /points/{id}"
    assert template("GET /orders/3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b") == "GET /orders/{id}"
    assert template("process order-events") == "process order-events"
    assert template("GET /cache/{key}") == "GET /cache/{key}"
    assert template("fetch 7f3a9c01") == "fetch {id}"
    assert ID_PATTERN.startswith("[0-9a-fA-F]{8}-")


# --- under-instrumentation ------------------------------------------------------------------


async def test_server_time_no_child_explains(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(6):
        trace = shop.trace_id()
        server = shop.span(trace, "report", "GET /report", SpanKind.SERVER, 100_000 + i * 900,
                           800)  # fmt: skip
        shop.span(trace, "report", "SELECT rows", SpanKind.CLIENT, 100_000 + i * 900 + 1, 20,
                  server, db__system="postgresql")  # fmt: skip
    (finding,) = await run("instrumentation.uncovered-time", shop, tmp_path)
    assert finding.title.startswith("report 'GET /report': 780 ms of a median 800 ms")
    assert finding.severity == Severity.MEDIUM


async def test_concurrent_children_that_cover_the_time_are_not_gaps(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(6):
        trace = shop.trace_id()
        server = shop.span(trace, "report", "GET /report", SpanKind.SERVER, 100_000 + i * 900,
                           800)  # fmt: skip
        for _ in range(3):  # in parallel, each nearly the whole span
            shop.span(trace, "report", "fetch part", SpanKind.INTERNAL,
                      100_000 + i * 900 + 1, 790, server)  # fmt: skip
    assert await run("instrumentation.uncovered-time", shop, tmp_path) == []


async def test_a_service_seen_only_as_a_peer(tmp_path: Path) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    root = shop.span(trace, "frontend", "POST /pay", SpanKind.SERVER, 110_000, 50)
    shop.span(trace, "frontend", "POST", SpanKind.CLIENT, 110_001, 40, root,
              peer__service="stripe", server__address="api.stripe.example")  # fmt: skip
    (finding,) = await run("instrumentation.peers-only", shop, tmp_path)
    assert finding.title == "stripe is seen only as a peer"
    assert finding.severity == Severity.LOW
    # postgres (db.system) is a peer too, but nobody traces inside a database
    assert "postgres" not in finding.title


# --- noise ----------------------------------------------------------------------------------


async def test_attribute_keys_with_ids(tmp_path: Path) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    items = {f"cart__item__{1000 + i}__price": 2.5 for i in range(30)}
    shop.span(trace, "cart", "price cart", SpanKind.INTERNAL, 120_000, 5, **items)  # type: ignore[arg-type]
    (finding,) = await run("noise.dynamic-keys", shop, tmp_path)
    assert "cart.item.{id}.price" in finding.detail
    assert 27 <= finding.count <= 33  # an approximate count


async def test_a_low_cardinality_key_with_very_many_values(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(150):
        shop.span(shop.trace_id(), "api", "GET /users/{id}", SpanKind.SERVER, 130_000 + i, 5,
                  http__route=f"/users/{i}")  # fmt: skip
    (finding,) = await run("noise.exploding-values", shop, tmp_path)
    assert finding.title.startswith("api: 'http.route' has ~1")
    assert finding.count >= 140  # an approximate count


async def test_huge_values_near_and_at_the_limit(tmp_path: Path) -> None:
    shop = Shop().healthy()
    trace = shop.trace_id()
    shop.span(trace, "api", "POST /upload", SpanKind.SERVER, 140_000, 5, http__body="x" * 900)
    shop.span(trace, "api", "POST /import", SpanKind.SERVER, 140_000, 5, raw="y" * 1000)
    found = await run("noise.huge-values", shop, tmp_path, value_limit=1000)
    by_key = {f.title.split("'")[1]: f for f in found}
    assert by_key["http.body"].severity == Severity.LOW
    assert by_key["raw"].severity == Severity.MEDIUM
    assert "(cut at the limit)" in by_key["raw"].title


# --- sampling -------------------------------------------------------------------------------


async def test_endpoints_with_too_few_traces_for_a_p99(healthy: Evidence) -> None:
    (finding,) = CHECKS["sampling.too-few-for-p99"](healthy)
    assert finding.severity == Severity.INFO
    assert "needs about 1,000 traces" in finding.detail
    assert "frontend 'POST /orders' 20" in finding.detail


def test_the_sampling_probability_in_a_tracestate() -> None:
    assert probability("ot=th:8") == 0.5
    assert probability("vendor=1,ot=rv:abcdef;th:c") == 0.25
    assert probability("ot=th:0") == 1.0
    assert probability("vendor=th:8") is None
    assert probability("") is None


async def test_errors_lost_to_head_sampling(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(10):  # kept at p = 0.25: each stands for 4
        shop.span(shop.trace_id(), "payment", "POST /charge", SpanKind.SERVER, 150_000 + i, 5,
                  status=StatusCode.ERROR, trace_state="ot=th:c")  # fmt: skip
    (finding,) = await run("sampling.errors-lost", shop, tmp_path)
    assert finding.count == 30
    assert finding.severity == Severity.MEDIUM
    assert "tail_sampling" in finding.fix


async def test_errors_lost_is_not_measurable_without_thresholds(healthy: Evidence) -> None:
    (finding,) = CHECKS["sampling.errors-lost"](healthy)
    assert finding.severity == Severity.INFO
    assert "not measurable yet" in finding.title


# --- clock skew -----------------------------------------------------------------------------


async def test_clock_skew_between_two_services(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(10):
        trace = shop.trace_id()
        root = shop.span(trace, "frontend", "GET /x", SpanKind.SERVER, 160_000 + i * 100, 50)
        client = shop.span(trace, "frontend", "GET", SpanKind.CLIENT, 160_001 + i * 100, 40,
                           root)  # fmt: skip
        # inventory's clock runs 30 ms behind: its span starts before the call did
        shop.span(trace, "inventory", "GET /stock", SpanKind.SERVER, 160_001 + i * 100 - 30,
                  20, client)  # fmt: skip
    (finding,) = await run("skew.clock-skew", shop, tmp_path)
    assert finding.title == "clock skew between frontend and inventory: up to 30.0 ms"
    assert finding.severity == Severity.HIGH
    assert (finding.count, finding.total) == (10, 10)


async def test_clock_skew_is_named_by_host_pair_when_hosts_are_known(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(10):
        trace = shop.trace_id()
        start = 165_000 + i * 100
        root = shop.span(trace, "frontend", "GET /x", SpanKind.SERVER, start, 50, host="web-1")
        client = shop.span(trace, "frontend", "GET", SpanKind.CLIENT, start + 1, 40, root,
                           host="web-1")  # fmt: skip
        # two inventory replicas: only db-7's clock is 25 ms behind
        host = "db-7" if i % 2 else "db-3"
        late = 25 if host == "db-7" else 0
        shop.span(trace, "inventory", "GET /stock", SpanKind.SERVER, start + 2 - late, 20,
                  client, host=host)  # fmt: skip
    (finding,) = await run("skew.clock-skew", shop, tmp_path)
    assert finding.title == "clock skew between hosts web-1 and db-7: up to 24.0 ms"
    assert (finding.count, finding.total) == (5, 5)
    assert "frontend → inventory" in finding.detail
    assert "hosts web-1 and db-7" in finding.fix


async def test_a_server_span_ending_after_its_client_is_not_skew(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(10):
        trace = shop.trace_id()
        client = shop.span(trace, "frontend", "GET", SpanKind.CLIENT, 170_000 + i * 100, 10)
        # the server ends its span after sending the response the client already has
        shop.span(trace, "inventory", "GET /stock", SpanKind.SERVER, 170_001 + i * 100, 25,
                  client)  # fmt: skip
    assert await run("skew.clock-skew", shop, tmp_path) == []
