"""The web UI in Debian's Chromium (headless, through Playwright) against a real
``breadcrumbs serve`` filled by the OpenTelemetry SDK over OTLP/HTTP: search, open a trace,
expand and collapse, the span panel, find-in-trace, keyboard, deep links, the service map, and
span data holding HTML and script shown as text with nothing executed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, format_trace_id
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

XSS_NAME = "<script>window.__xss = 1</script>charge"
XSS_VALUE = '<img src=x onerror="window.__xss = 2">'
XSS_EVENT = '<b onmouseover="window.__xss = 3">bold</b>'
FILLER = 40


def _provider(server: ServerProcess, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _send_checkout(server: ServerProcess) -> tuple[str, int]:
    """gateway GET /checkout -> payment (error, hostile names) and FILLER render spans."""
    gateway = _provider(server, "gateway")
    payment = _provider(server, "payment")
    tracer = gateway.get_tracer("ui-test")
    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        trace_id = format_trace_id(root.get_span_context().trace_id)
        with payment.get_tracer("ui-test").start_as_current_span(
            XSS_NAME, kind=SpanKind.SERVER, attributes={"note": XSS_VALUE, "amount.cents": 1250}
        ) as charge:
            charge.add_event(XSS_EVENT, {"detail": XSS_VALUE})
            try:
                raise ZeroDivisionError("division by zero in per_item_charge")
            except ZeroDivisionError as error:
                charge.record_exception(error)
                charge.set_status(Status(StatusCode.ERROR, "division by zero"))
        with tracer.start_as_current_span("render page"):
            for i in range(FILLER):
                with tracer.start_as_current_span(f"render widget {i}"):
                    pass
    gateway.shutdown()
    payment.shutdown()
    return trace_id, 3 + FILLER


@pytest.fixture(scope="module")
def sent(server: ServerProcess) -> tuple[str, int]:
    trace_id, count = _send_checkout(server)
    server.wait_for_spans(trace_id, count, timeout_s=30)
    return trace_id, count


def _rows(page: Page) -> int:
    return int(page.get_by_test_id("waterfall").get_attribute("data-rows") or 0)


def test_search_lists_the_trace_and_opens_it(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, count = sent
    page.goto(server.http_url + "/search?service=gateway&lookback=1h")
    link = page.get_by_test_id("trace-link").first
    expect(link).to_contain_text("GET /checkout")
    results = page.get_by_test_id("results")
    expect(results).to_contain_text(str(count))
    expect(results).to_contain_text("payment")
    expect(page.get_by_test_id("scatter").locator("circle.error")).to_have_count(1)
    link.click()
    expect(page).to_have_url(re.compile(f"/trace/{trace_id}\\?match="))
    header = page.get_by_test_id("trace-header")
    expect(header).to_contain_text("GET /checkout")
    expect(header).to_contain_text(str(count))
    assert _rows(page) == count
    # The server's analysis (/explain) found the failing span: one click from the header.
    expect(page.get_by_test_id("error-origin")).to_have_count(1)


def test_the_url_holds_the_search(server: ServerProcess, sent: tuple[str, int], page: Page) -> None:
    page.goto(server.http_url + "/search?service=payment&errors=1&lookback=1h&minTrace=1us")
    expect(page.get_by_test_id("service")).to_have_value("payment")
    expect(page.get_by_test_id("errors-only")).to_be_checked()
    expect(page.get_by_test_id("min-trace")).to_have_value("1us")
    expect(page.get_by_test_id("trace-link")).to_have_count(1)
    page.get_by_test_id("service").select_option("gateway")
    page.get_by_test_id("search-button").click()
    expect(page).to_have_url(re.compile(r"service=gateway"))
    page.reload()
    expect(page.get_by_test_id("service")).to_have_value("gateway")


def test_expand_collapse_and_keyboard(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, count = sent
    page.goto(f"{server.http_url}/trace/{trace_id}")
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", str(count))
    page.get_by_role("button", name="Collapse all").click()
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", "3")
    page.get_by_role("button", name="Expand all").click()
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", str(count))
    # Clicking a row's triangle collapses it: row 2 is "render page" with FILLER children.
    canvas = page.locator("canvas.wf-body")
    canvas.click(position={"x": 14 * 1 + 10, "y": 24 * 2 + 12})
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", "3")
    # Select it, then → expands, ↓ moves into its children, Esc closes the panel.
    canvas.click(position={"x": 200, "y": 24 * 2 + 12})
    expect(page.get_by_test_id("span-panel")).to_contain_text("render page")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", str(count))
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("span-panel")).to_contain_text("render widget 0")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("span-panel")).to_have_count(0)


def test_find_span_panel_and_deep_link(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, _ = sent
    page.goto(f"{server.http_url}/trace/{trace_id}")
    find = page.get_by_test_id("find")
    find.fill("widget 3")
    expect(page.get_by_test_id("find-count")).to_have_text("1 of 11")  # 3, 30..39
    find.press("Enter")
    panel = page.get_by_test_id("span-panel")
    expect(panel).to_contain_text("render widget 3")
    find.press("Enter")
    expect(panel).to_contain_text("render widget 30")
    find.press("Shift+Enter")
    expect(panel).to_contain_text("render widget 3")
    find.fill("charge")
    find.press("Enter")
    expect(panel).to_contain_text("ZeroDivisionError")
    expect(panel.locator("pre.stack")).to_contain_text("raise ZeroDivisionError")
    expect(panel).to_contain_text("ERROR")
    expect(panel).to_contain_text("division by zero")
    expect(panel).to_contain_text("1250")
    expect(panel).to_contain_text("int64")
    # The selection is in the URL: a reload opens the same span.
    expect(page).to_have_url(re.compile(r"\?span=[0-9a-f]{16}$"))
    page.reload()
    expect(page.get_by_test_id("span-panel")).to_contain_text("ZeroDivisionError")


def test_find_in_trace_by_attribute(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, _ = sent
    page.goto(f"{server.http_url}/trace/{trace_id}")
    find = page.get_by_test_id("find")
    find.fill("amount.cents=1250")
    expect(page.get_by_test_id("find-count")).to_have_text("1 of 1")
    find.press("Enter")
    expect(page.get_by_test_id("span-panel").locator(".panel-title")).to_have_text(XSS_NAME)
    find.fill("amount.cents=1")
    expect(page.get_by_test_id("find-count")).to_have_text("no match")


def test_span_data_with_html_shows_verbatim_and_never_runs(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, _ = sent
    page.goto(f"{server.http_url}/trace/{trace_id}")
    page.get_by_test_id("find").fill("charge")
    page.get_by_test_id("find").press("Enter")
    panel = page.get_by_test_id("span-panel")
    expect(panel.locator(".panel-title")).to_have_text(XSS_NAME)
    expect(panel).to_contain_text(XSS_VALUE)
    expect(panel).to_contain_text(XSS_EVENT)
    assert panel.locator("img, b[onmouseover], script").count() == 0
    page.goto(server.http_url + "/search?service=payment&lookback=1h")
    expect(page.get_by_test_id("results")).to_contain_text("payment")
    assert page.evaluate("window.__xss") is None


def test_service_map_draws_the_call_and_clicking_searches(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    # Dependency counts are kept per 15 s window as spans arrive: wait for the edge.
    deadline = time.monotonic() + 90
    while not server.get_json(
        "/api/dependencies", endTs=int(time.time() * 1000), lookback=3_600_000
    )["data"]:
        assert time.monotonic() < deadline, "no dependency link after 90 s"
        time.sleep(0.5)
    page.goto(server.http_url + "/map")
    nodes = page.get_by_test_id("map-node")
    expect(nodes).to_have_count(2)
    payment = nodes.filter(has_text="payment")
    # Calls, error rate and p95 on the service and on the call (the charge failed).
    expect(payment).to_contain_text("1 calls · 100% err · p95")
    label = page.locator('[data-edge-label="gateway→payment"]')
    expect(label).to_contain_text("1 · 100% err · p95")
    payment.click()
    expect(page).to_have_url(re.compile(r"/search\?service=payment"))
    expect(page.get_by_test_id("trace-link")).to_have_count(1)
    page.go_back()
    page.locator('[data-edge="gateway→payment"] path.hit').click(force=True)
    expect(page).to_have_url(re.compile(r"/search\?service=payment&kind=server"))
    expect(page.get_by_test_id("trace-link")).to_have_count(1)
    # A map wider than the window starts at its left end, scrolled from there (centred as a
    # flex line, its left end was cut off, out of the scrollbar's reach).
    page.set_viewport_size({"width": 480, "height": 800})
    page.goto(server.http_url + "/map")
    gateway = nodes.filter(has_text="gateway")
    expect(gateway).to_be_visible()
    card, box = page.locator(".map-card").bounding_box(), gateway.bounding_box()
    assert card is not None
    assert box is not None
    assert box["x"] >= card["x"]
    # Every page's link stays one line and in reach (the bar scrolls): at 480 px "Why slow?"
    # wrapped onto two lines and "Doctor" lay past the window's edge, out of reach.
    links = page.locator(".topbar a.nav")
    heights = {round(h) for h in links.evaluate_all("links => links.map(a => a.offsetHeight)")}
    assert len(heights) == 1, heights
    doctor = links.filter(has_text="Doctor")
    doctor.scroll_into_view_if_needed()
    doctor.click()
    expect(page).to_have_url(re.compile(r"/doctor"))


def test_search_across_services_highlights_the_matching_spans(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, _ = sent
    # No service chosen: every service is searched.
    page.goto(server.http_url + "/search?lookback=1h")
    expect(page.get_by_test_id("service")).to_have_value("")
    expect(page.get_by_test_id("results")).to_contain_text("GET /checkout")
    # A span attribute of the payment span, found without naming its service; the list says
    # how long the matching span took beside the whole trace.
    page.get_by_test_id("tags").fill("amount.cents=1250")
    page.get_by_test_id("kind").select_option("server")
    page.get_by_test_id("search-button").click()
    expect(page).to_have_url(re.compile(r"kind=server"))
    expect(page.get_by_test_id("trace-link")).to_have_count(1)
    expect(page.get_by_test_id("matched")).to_contain_text("payment")
    # A resource attribute no span carries finds nothing; the message says what to try.
    page.get_by_test_id("resource-tags").fill("service.name=gateway")
    page.get_by_test_id("search-button").click()
    expect(page.locator(".empty-state")).to_contain_text("No service has a matching span")
    page.get_by_test_id("resource-tags").fill("service.name=payment")
    page.get_by_test_id("search-button").click()
    page.get_by_test_id("trace-link").click()
    expect(page).to_have_url(re.compile(f"/trace/{trace_id}\\?match="))
    matched = page.get_by_test_id("search-matches")
    expect(matched).to_contain_text("1 span matched your search")
    page.get_by_test_id("next-searched").click()
    expect(page.get_by_test_id("span-panel").locator(".panel-title")).to_have_text(XSS_NAME)
    # The highlight survives a reload of the shared link.
    page.reload()
    expect(page.get_by_test_id("search-matches")).to_contain_text("1 span matched your search")
    expect(page.get_by_test_id("span-panel").locator(".panel-title")).to_have_text(XSS_NAME)


def test_flame_graph_of_the_same_trace(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    trace_id, _ = sent
    page.goto(f"{server.http_url}/trace/{trace_id}")
    page.get_by_test_id("view-flame").click()
    flame = page.get_by_test_id("flame-graph")
    expect(flame).to_have_attribute("data-levels", "3")  # root, its children, the widgets
    expect(page).to_have_url(re.compile(r"view=flame"))
    # The root's band spans the width: a click on it opens the root span.
    page.get_by_test_id("flame-canvas").click(position={"x": 300, "y": 22 + 11})
    expect(page.get_by_test_id("span-panel").locator(".panel-title")).to_have_text("GET /checkout")
    page.reload()
    expect(page.get_by_test_id("flame-graph")).to_have_attribute("data-levels", "3")
    expect(page.get_by_test_id("span-panel").locator(".panel-title")).to_have_text("GET /checkout")
    page.get_by_test_id("view-waterfall").click()
    expect(page.get_by_test_id("waterfall")).to_be_visible()


def test_the_explain_contract_marks_the_error_origin(
    server: ServerProcess, sent: tuple[str, int], page: Page
) -> None:
    """The analysis endpoint lands from another branch: answered here in the shape of
    CONTRACT-explain.md, the header offers the error origin and one click opens that span."""
    trace_id, _ = sent
    spans = server.wait_for_spans(trace_id, 3, timeout_s=30)["spans"]
    charge = next(s for s in spans if s["operationName"] == XSS_NAME)
    root = next(s for s in spans if s["operationName"] == "GET /checkout")
    start_ns = root["startTime"] * 1000
    explain = {
        "traceId": trace_id,
        "summary": {},
        "criticalPath": {
            "totalNs": root["duration"] * 1000,
            "segments": [
                {
                    "spanId": root["spanID"],
                    "service": "gateway",
                    "name": "GET /checkout",
                    "startNs": start_ns,
                    "endNs": start_ns + root["duration"] * 1000,
                    "uninstrumented": False,
                }
            ],
            "byService": [{"service": "gateway", "ns": root["duration"] * 1000, "share": 1.0}],
            "byOperation": [],
        },
        "errors": {
            "origins": [
                {
                    "spanId": charge["spanID"],
                    "service": "payment",
                    "name": XSS_NAME,
                    "exceptionType": "ZeroDivisionError",
                    "message": "division by zero in per_item_charge",
                    "frame": "per_item_charge (payment.py:42)",
                    "stacktrace": None,
                    "chain": [charge["spanID"], root["spanID"]],
                }
            ],
            "handled": [],
            "retries": [],
        },
        "skew": [
            {
                "spanId": charge["spanID"],
                "parentSpanId": root["spanID"],
                "issue": "starts-before-parent",
                "byNs": 1500,
            }
        ],
        "warnings": [],
    }
    page.route(
        f"**/api/x/traces/{trace_id}/explain",
        lambda route: route.fulfill(json=explain),
    )
    page.goto(f"{server.http_url}/trace/{trace_id}")
    button = page.get_by_test_id("error-origin")
    expect(button).to_contain_text("payment · ZeroDivisionError")
    expect(page.locator(".legend")).to_contain_text("critical path")
    button.click()
    panel = page.get_by_test_id("span-panel")
    expect(panel.locator(".panel-title")).to_have_text(XSS_NAME)
    expect(panel).to_contain_text("An error starts here.")
    expect(panel).to_contain_text("per_item_charge (payment.py:42)")
    expect(panel).to_contain_text("clock skew: starts before parent by 1.5µs")


def test_an_empty_server_says_how_to_send_spans(
    server_factory: Callable[..., ServerProcess], page: Page
) -> None:
    empty = server_factory().start()
    page.goto(empty.http_url + "/")
    onboarding = page.get_by_test_id("no-services")
    expect(onboarding).to_contain_text("No traces yet")
    # The ports this server listens on (free ports here), not the defaults.
    otlp_http, otlp_grpc = empty.ports["otlp_http_port"], empty.ports["otlp_grpc_port"]
    expect(onboarding).to_contain_text(f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{otlp_http}")
    expect(onboarding).to_contain_text(f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{otlp_grpc}")
    expect(onboarding).to_contain_text(
        f"http://127.0.0.1:{empty.ports['zipkin_port']}/api/v2/spans"
    )
    expect(onboarding).to_contain_text("OTEL_SERVICE_NAME")


def test_unknown_trace_says_what_to_do(server: ServerProcess, page: Page) -> None:
    page.goto(server.http_url + "/trace/" + "ab" * 16)
    expect(page.locator(".empty-state")).to_contain_text("Trace not found")
    expect(page.locator(".empty-state a")).to_have_attribute("href", "/search")
