from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from breadcrumbs import sdk


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


@sdk.traced
def brew(kale_grams: int) -> float:
    return 100 / kale_grams


@sdk.traced("blend", attributes={"blender.speed": 3})
async def blend(items: int) -> int:
    await asyncio.sleep(0)
    with sdk.traced():
        brew(items)
    return items


def test_decorator_names_spans_module_qualname(spans: InMemorySpanExporter) -> None:
    assert brew(4) == 25
    (span,) = spans.get_finished_spans()
    assert span.name == f"{__name__}.brew"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET


def test_decorator_records_exception_and_error_status(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ZeroDivisionError):
        brew(0)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    attrs = dict(event.attributes or {})
    assert attrs["exception.type"] == "ZeroDivisionError"
    assert attrs["exception.message"] == "division by zero"
    assert "return 100 / kale_grams" in str(attrs["exception.stacktrace"])


async def test_async_decorator_and_context_manager_nest(spans: InMemorySpanExporter) -> None:
    assert await blend(2) == 2
    got = by_name(spans)
    outer, block = got["blend"], got[f"{__name__}.blend"]
    inner = got[f"{__name__}.brew"]
    assert outer.attributes is not None
    assert outer.attributes["blender.speed"] == 3
    assert block.parent is not None
    assert block.parent.span_id == outer.context.span_id
    assert inner.parent is not None
    assert inner.parent.span_id == block.context.span_id
    assert len({s.context.trace_id for s in got.values()}) == 1


async def test_one_recipe_reused_concurrently(spans: InMemorySpanExporter) -> None:
    step = sdk.traced("step")

    async def work(n: int) -> None:
        with step as span:
            span.set_attribute("n", n)
            await asyncio.sleep(0.001 * n)

    await asyncio.gather(*(work(n) for n in range(5)))
    finished = spans.get_finished_spans()
    assert sorted(int(str(s.attributes["n"])) for s in finished if s.attributes) == [0, 1, 2, 3, 4]
    assert all(s.parent is None for s in finished)


def test_producer_consumer_share_a_trace(spans: InMemorySpanExporter) -> None:
    headers: dict[str, str] = {}
    with sdk.producer_span("order-events", system="sqlite", headers=headers, message_id="m1"):
        pass
    assert "traceparent" in headers
    wire = {k: v.encode() for k, v in headers.items()}  # bytes, as Kafka hands them over
    with sdk.consumer_span(wire, "order-events", system="sqlite", message_id="m1"):
        pass
    got = by_name(spans)
    producer, consumer = got["send order-events"], got["process order-events"]
    assert producer.kind is SpanKind.PRODUCER
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.destination.name"] == "order-events"
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["messaging.message.id"] == "m1"


def test_batch_consumer_links_every_message(spans: InMemorySpanExporter) -> None:
    batch: list[dict[str, str]] = []
    for i in range(3):
        headers: dict[str, str] = {}
        with sdk.producer_span("digest", system="sqlite", headers=headers, message_id=str(i)):
            pass
        batch.append(headers)
    batch.append({})  # a message sent without context: counted, not linked
    with sdk.batch_consumer_span(batch, "digest", system="sqlite"):
        pass
    finished = spans.get_finished_spans()
    producers = [s for s in finished if s.kind is SpanKind.PRODUCER]
    (consumer,) = [s for s in finished if s.kind is SpanKind.CONSUMER]
    assert consumer.parent is None
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.batch.message_count"] == 4
    linked = {(link.context.trace_id, link.context.span_id) for link in consumer.links}
    assert linked == {(p.context.trace_id, p.context.span_id) for p in producers}
    assert consumer.context.trace_id not in {p.context.trace_id for p in producers}


def test_extract_without_context_is_empty() -> None:
    assert sdk.extract({"content-type": "json"}) == sdk.extract(None)


def test_third_party_sync_error(spans: InMemorySpanExporter) -> None:
    legacy = sdk.third_party("legacy-pricing", "tax", server_address="10.1.2.3", server_port=80)

    @legacy
    def lookup() -> None:
        raise ConnectionResetError("peer hung up")

    with pytest.raises(ConnectionResetError):
        lookup()
    (span,) = spans.get_finished_spans()
    assert span.name == "legacy-pricing tax"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes is not None
    assert span.attributes["peer.service"] == "legacy-pricing"
    assert span.attributes["server.address"] == "10.1.2.3"
    assert span.attributes["error.type"] == "builtins.ConnectionResetError"
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["exception.type"] == "ConnectionResetError"


async def test_third_party_async_timeout_is_enforced(spans: InMemorySpanExporter) -> None:
    legacy = sdk.third_party("legacy-pricing", "tax", timeout=0.05)
    with pytest.raises(TimeoutError):
        async with legacy:
            await asyncio.sleep(5)
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "timeout"
    assert span.attributes["breadcrumbs.client.timeout_ms"] == 50
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "timeout after 0.05s"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_third_party_is_the_only_client_span(
    spans: InMemorySpanExporter, http_peer: str
) -> None:
    async with httpx.AsyncClient() as client:
        HTTPXClientInstrumentor.instrument_client(client)
        await client.get(http_peer)  # instrumented: one client span of its own
        async with sdk.third_party("legacy", "get", timeout=5):
            response = await client.get(http_peer)
    assert response.text == "ok"
    names = sorted(s.name for s in spans.get_finished_spans())
    assert names == ["GET", "legacy get"]
