"""The analysis pages in Debian's Chromium against a real ``breadcrumbs serve`` filled by the
OpenTelemetry SDK over OTLP/HTTP: "why" (the band dragged on the latency histogram, and from
a region brushed on the search scatter plot), compare (two traces ticked in the search list,
and a trace against its endpoint's typical one from the trace header), the doctor, the
services (RED) page, and every one of them reloaded from its URL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, format_trace_id
from playwright.sync_api import Locator, Page, expect

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

MS = 1_000_000
FAST, SLOW = 30, 10
# Span data holding markup: it must show as text and never run (the page fixture checks).
SLOW_PROVIDER = '<img src=x onerror="window.__xss = 1">slowpay'
ORDER = "GET /order"
CHECKOUT = "POST /checkout"


@dataclass(frozen=True)
class Sent:
    slow_checkout: str
    fast_checkouts: tuple[str, ...]


@contextmanager
def _tracers(server: ServerProcess, *services: str) -> Iterator[list[Tracer]]:
    providers = []
    for service in services:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        providers.append(provider)
    yield [p.get_tracer("ui-analysis-test") for p in providers]
    for provider in providers:
        provider.shutdown()  # flushes


def _span(
    tracer: Tracer,
    name: str,
    start_ns: int,
    duration_ns: int,
    parent: Span | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    failed: bool = False,
    attributes: dict[str, str | int] | None = None,
) -> Span:
    context = trace.set_span_in_context(parent) if parent is not None else None
    span = tracer.start_span(
        name, context=context, kind=kind, start_time=start_ns, attributes=attributes
    )
    if failed:
        span.set_status(Status(StatusCode.ERROR, "card declined"))
    span.end(end_time=start_ns + duration_ns)
    return span


def _send(server: ServerProcess) -> tuple[Sent, list[str]]:
    """shop GET /order: FAST quick calls and SLOW ones paid through SLOW_PROVIDER with a slow
    query under them; shop POST /checkout: three alike, and one slow with a retried charge;
    accounts names its spans by user id (a doctor finding)."""
    now = time.time_ns()
    ids: list[str] = []
    with _tracers(server, "shop", "payments", "accounts") as (shop, payments, accounts):
        for i in range(FAST + SLOW):
            slow = i % 4 == 3
            start = now - 100_000 * MS + i * 2_000 * MS
            took = (220 + 7 * i) * MS if slow else (2 + i % 3) * MS
            provider = SLOW_PROVIDER if slow else "quickpay"
            root = _span(
                shop, ORDER, start, took, kind=SpanKind.SERVER, attributes={"cart.size": i % 5}
            )
            charge = _span(
                payments, "charge", start + MS // 2, took - MS, root, SpanKind.SERVER,
                attributes={"payment.provider": provider},
            )  # fmt: skip
            if slow:
                _span(payments, "SELECT ledger", start + MS, took - 3 * MS, charge, SpanKind.CLIENT)
            ids.append(format_trace_id(root.get_span_context().trace_id))

        checkouts = []
        for i in range(4):
            start = now - 50_000 * MS + i * 3_000 * MS
            slow = i == 3
            root = _span(shop, CHECKOUT, start, (400 if slow else 40) * MS, kind=SpanKind.SERVER)
            _span(payments, "charge", start + MS, 20 * MS, root, SpanKind.SERVER)
            if slow:
                _span(payments, "charge", start + 30 * MS, 360 * MS, root, SpanKind.SERVER, True)
            checkouts.append(format_trace_id(root.get_span_context().trace_id))

        for user in range(1001, 1008):
            _span(accounts, f"GET /users/{user}", now - 20_000 * MS, 3 * MS, kind=SpanKind.SERVER)
    sent = Sent(slow_checkout=checkouts[3], fast_checkouts=tuple(checkouts[:3]))
    return sent, ids + checkouts


@pytest.fixture(scope="module")
def sent(server: ServerProcess) -> Sent:
    found, trace_ids = _send(server)
    for trace_id in trace_ids:
        server.wait_for_spans(trace_id, 2, timeout_s=60)
    return found


def _drag(page: Page, target: Locator, x0: float, y0: float, x1: float, y1: float) -> None:
    """Press at (x0, y0) and release at (x1, y1), fractions of the element's box."""
    box = target.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (x0 + x1) / 2, box["y"] + box["height"] * y1)
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1)
    page.mouse.up()


def _expect_slowpay_first(page: Page) -> None:
    attributes = page.get_by_test_id("why-attributes")
    first = attributes.get_by_test_id("finding").first
    expect(first).to_contain_text(f"payment.provider = {SLOW_PROVIDER}")
    expect(first).to_contain_text("100%")  # every slow call, against none of the others
    expect(first).to_contain_text("0%")
    assert attributes.locator("img").count() == 0
    operations = page.get_by_test_id("why-operations")
    expect(operations).to_contain_text("SELECT ledger")


def test_why_from_a_band_dragged_on_the_histogram(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/why?service=shop&operation={ORDER}&lookback=1h")
    histogram = page.get_by_test_id("latency-histogram")
    expect(histogram.locator("rect.bar")).not_to_have_count(0)
    expect(page.get_by_test_id("latency-heatmap")).to_be_visible()
    # Fast calls take 2-4 ms, slow ones 220-400 ms: halfway along the log axis is between.
    _drag(page, histogram, 0.5, 0.5, 0.97, 0.5)
    expect(page).to_have_url(re.compile(r"slowerThan=\d+"))
    expect(page.get_by_test_id("band-note")).to_contain_text(f"about {SLOW} of {FAST + SLOW}")
    # The keyboard moves the band's edge one bucket (still between fast and slow).
    dragged = page.url
    histogram.press("ArrowLeft")
    expect(page).not_to_have_url(dragged)
    expect(page.get_by_test_id("band-note")).to_contain_text(f"about {SLOW} of {FAST + SLOW}")
    results = page.get_by_test_id("why-results")
    expect(results).to_contain_text(f"Comparing {SLOW} slow calls")
    expect(results).to_contain_text(f"with the other {FAST}")
    _expect_slowpay_first(page)
    # The question is in the URL: a reload (or a shared link) asks it again.
    page.reload()
    expect(page.get_by_test_id("why-results")).to_contain_text(f"Comparing {SLOW} slow calls")
    _expect_slowpay_first(page)
    page.get_by_test_id("why-search-link").click()
    expect(page).to_have_url(re.compile(r"/search\?service=shop&.*minSpan="))
    expect(page.get_by_test_id("trace-link")).to_have_count(SLOW)


def test_why_from_the_region_brushed_on_the_search_scatter(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/search?service=shop&operation={ORDER}&lookback=1h&limit=100")
    scatter = page.get_by_test_id("scatter")
    expect(scatter.locator("circle")).to_have_count(FAST + SLOW)
    # The slow dots sit in the upper part; the fast ones along the bottom.
    _drag(page, scatter, 0.065, 0.02, 0.995, 0.6)
    button = page.get_by_test_id("why-region")
    expect(button).to_have_text("Why are these slow?")
    button.click()
    expect(page).to_have_url(re.compile(r"/why\?service=shop&operation=.*&start=\d+&end=\d+"))
    # The rectangle's top edge bounds the band too.
    expect(page).to_have_url(re.compile(r"slowerThan=\d+&fasterThan=\d+"))
    results = page.get_by_test_id("why-results")
    expect(results).to_contain_text(f"Comparing {SLOW} in-band calls (between ")
    expect(page.get_by_test_id("band-note")).to_contain_text("Band = ")
    _expect_slowpay_first(page)


def test_why_in_a_narrow_window_is_one_column(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.set_viewport_size({"width": 700, "height": 900})
    page.goto(f"{server.http_url}/why?service=shop&operation={ORDER}&lookback=1h&slowerThan=100ms")
    attributes = page.get_by_test_id("why-attributes")
    operations = page.get_by_test_id("why-operations")
    expect(operations).to_contain_text("SELECT ledger")
    left, right = attributes.bounding_box(), operations.bounding_box()
    assert left is not None
    assert right is not None
    # Stacked at full width: side by side, each card was ~300 px and its names broke mid-word.
    assert abs(left["x"] - right["x"]) < 2
    assert abs(left["width"] - right["width"]) < 2
    assert right["y"] > left["y"] + left["height"]
    # A service name is one line box (it never breaks mid-word).
    lines = operations.locator(".op-name b").evaluate_all(
        "names => names.map(name => name.getClientRects().length)"
    )
    assert lines
    assert set(lines) == {1}


def test_why_the_failures(server: ServerProcess, sent: Sent, page: Page) -> None:
    # A lookback no menu entry names (typed in a URL, as the CLI prints them) is shown as is.
    page.goto(f"{server.http_url}/why?service=payments&operation=charge&lookback=90m")
    expect(page.get_by_test_id("why-range")).to_have_value("90m")
    expect(page.get_by_test_id("why-range")).to_contain_text("Last 90m")
    page.get_by_test_id("mode-errors").click()
    expect(page).to_have_url(re.compile(r"errors=1"))
    expect(page.get_by_test_id("latency-histogram")).to_have_count(0)
    results = page.get_by_test_id("why-results")
    expect(results).to_contain_text("Comparing 1 failed call of payments charge")
    # The failed charge was a checkout's retry: no GET /order around it.
    operations = page.get_by_test_id("why-operations")
    expect(operations).to_contain_text("Rarer in the failed calls")
    expect(operations.get_by_test_id("finding").filter(has_text=ORDER)).to_contain_text("0%")


def test_compare_two_traces_ticked_in_the_search_list(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/search?service=shop&operation={CHECKOUT}&lookback=1h")
    rows = page.get_by_test_id("results").locator("tbody tr")
    expect(rows).to_have_count(4)
    rows.filter(has_text=sent.slow_checkout[:16]).get_by_test_id("compare-pick").check()
    rows.filter(has_text=sent.fast_checkouts[0][:16]).get_by_test_id("compare-pick").check()
    page.get_by_test_id("compare-picked").click()
    expected = re.compile(f"/compare/({sent.slow_checkout}|{sent.fast_checkouts[0]})/")
    expect(page).to_have_url(expected)
    _expect_the_retry(page, slow_side=None)
    page.reload()
    _expect_the_retry(page, slow_side=None)


def _expect_the_retry(page: Page, slow_side: str | None) -> None:
    tree = page.get_by_test_id("compare-tree")
    expect(tree.get_by_test_id("compare-row")).to_have_count(2)  # charge x2 is one path
    root = tree.get_by_test_id("compare-row").first
    expect(root).to_contain_text(CHECKOUT)
    expect(root).to_contain_text("360ms")  # 400 ms against 40 ms, said in words
    charge = tree.get_by_test_id("compare-row").nth(1)
    expect(charge).to_contain_text("2× vs 1×")
    verdict = page.get_by_test_id("compare-verdict")
    if slow_side == "a":
        expect(root).to_contain_text("360ms slower")
        expect(verdict).to_contain_text("A is 360ms slower")
    else:
        expect(verdict).to_contain_text(re.compile(r"A is 360ms (slower|faster)"))


def test_compare_a_trace_with_its_typical_one_from_the_header(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/trace/{sent.slow_checkout}")
    page.get_by_test_id("compare-menu").click()
    page.get_by_test_id("compare-typical").click()
    expect(page).to_have_url(re.compile(f"/compare/{sent.slow_checkout}$"))
    sides = page.get_by_test_id("compare-side")
    expect(sides.nth(1)).to_contain_text("typical")
    _expect_the_retry(page, slow_side="a")
    page.get_by_test_id("only-changes").check()
    expect(page.get_by_test_id("compare-row")).to_have_count(2)
    page.reload()
    _expect_the_retry(page, slow_side="a")


def test_compare_says_what_to_do_when_a_trace_is_missing(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/compare/{sent.slow_checkout}/{'ab' * 16}")
    error = page.get_by_test_id("compare-error")
    expect(error).to_contain_text("Nothing to compare with")
    expect(error).to_contain_text("Check both trace ids")


def test_doctor_lists_findings_worst_first_with_example_traces(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/doctor?lookback=1h")
    findings = page.get_by_test_id("doctor-finding")
    expect(findings.first).to_be_visible()
    order = {"high": 3, "medium": 2, "low": 1, "info": 0}
    severities = [order[s] for s in findings.evaluate_all("e => e.map(f => f.dataset.severity)")]
    assert severities == sorted(severities, reverse=True)
    names = findings.filter(has=page.locator("h3", has_text="span names with ids"))
    expect(names).to_have_count(1)
    expect(names).to_contain_text("How to fix")
    names.get_by_test_id("doctor-example").first.click()
    expect(page).to_have_url(re.compile(r"/trace/[0-9a-f]{32}$"))
    expect(page.get_by_test_id("trace-header")).to_contain_text("GET /users/")
    page.go_back()
    expect(page.get_by_test_id("doctor-range")).to_have_value("1h")


def test_services_page_shows_red_and_leads_to_why(
    server: ServerProcess, sent: Sent, page: Page
) -> None:
    page.goto(f"{server.http_url}/services?lookback=6h")
    services = page.get_by_test_id("red-service")
    expect(services.filter(has_text="shop")).to_have_count(1)
    # 1 failed charge of 45: the retry.
    expect(services.filter(has_text="payments")).to_contain_text("2.2% errors")
    services.filter(has_text="shop").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/services\?service=shop"))
    operations = page.get_by_test_id("red-operations")
    expect(operations).to_contain_text(ORDER)
    expect(operations).to_contain_text(CHECKOUT)
    page.reload()
    row = page.get_by_test_id("red-operations").locator("tr", has_text=ORDER)
    row.get_by_role("link", name="Why slow?").click()
    expect(page).to_have_url(re.compile(r"/why\?service=shop&operation=GET"))
    expect(page.get_by_test_id("why-results")).to_be_visible()
