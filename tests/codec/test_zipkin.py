"""Zipkin v2 codec: real client payloads, the zipkin-api examples, round trips, properties.

Test data: ``zipkin_testdata/zipkin_api_example.json`` is the span example of the zipkin-api
(``POST /api/v2/spans``); ``client_and_shared_server.json`` is Zipkin's own client-span
example (zipkin2 ``TestObjects``) plus the backend's ``shared`` server half of the same id.
"""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind as OtelSpanKind
from opentelemetry.trace import Status
from opentelemetry.trace import StatusCode as OtelStatusCode
from py_zipkin.encoding._encoders import get_encoder
from py_zipkin.encoding._helpers import Endpoint
from py_zipkin.encoding._helpers import Span as PyZipkinSpan
from py_zipkin.encoding._types import Encoding, Kind
from py_zipkin.encoding.protobuf import zipkin_pb2
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.util import ZipkinAttrs
from py_zipkin.zipkin import zipkin_span
from tests.codec.differential import both

from breadcrumbs.codec import zipkin, zipkin_native
from breadcrumbs.codec.base import (
    DROPPED_ATTRIBUTES_KEY,
    DROPPED_EVENTS_KEY,
    DROPPED_LINKS_KEY,
    TRUNCATED_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.codec.zipkin import (
    DEBUG_KEY,
    SHARED_KEY,
    START_TIME_ABSENT_KEY,
    decode_proto,
    to_zipkin_spans,
)
from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    SPAN_SCHEMA,
    UNKNOWN_SERVICE,
    Event,
    Link,
    Span,
    SpanBatch,
    SpanKind,
    StatusCode,
    batch_from_spans,
)

TESTDATA = Path(__file__).parent / "zipkin_testdata"
# Every test here decodes JSON with both decoders and requires the same outcome.
decode_json = both(zipkin.decode_json, zipkin_native.decode_json, zipkin_native.AVAILABLE)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rows(result: DecodeResult) -> list[dict[str, Any]]:
    assert result.batch.schema == SPAN_SCHEMA
    return list(result.batch.to_pylist())


def typed(entries: list[tuple[str, str]], codes: str) -> dict[str, tuple[str, str]]:
    """Attribute map entries as key -> (value text, type code)."""
    assert len(codes) == len(entries)
    return {key: (value, codes[i]) for i, (key, value) in enumerate(entries)}


def unordered(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its span attributes as a mapping, for comparing maps built in any order."""
    return {**row, "SpanAttributes": span_attrs(row), "SpanAttributeTypes": None}


def span_attrs(row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return typed(row["SpanAttributes"], row["SpanAttributeTypes"])


def resource_attrs(row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return typed(row["ResourceAttributes"], row["ResourceAttributeTypes"])


# --- the zipkin-api examples ---------------------------------------------------------------


def test_zipkin_api_example_span_decodes_field_by_field() -> None:
    result = decode_json((TESTDATA / "zipkin_api_example.json").read_bytes())
    assert (result.rejected, result.error) == (0, "")
    [row] = rows(result)
    assert row == {
        "Timestamp": 1556604172355737000,
        "TraceId": "00000000000000005af7183fb1d4cf5f",
        "SpanId": "352bff9a74ca9ad2",
        "ParentSpanId": "6b221d5bc9e6496c",
        "TraceState": "",
        "SpanName": "get /api",
        "SpanKind": SpanKind.SERVER,
        "ServiceName": "backend",
        "ResourceAttributes": [("service.name", "backend")],
        "ResourceAttributeTypes": "s",
        "ScopeName": "",
        "ScopeVersion": "",
        "SpanAttributes": [
            ("http.method", "GET"),
            ("http.path", "/api"),
            ("net.host.ip", "192.168.99.1"),
            ("net.host.port", "3306"),
            ("net.peer.ip", "172.19.0.2"),
            ("net.peer.port", "58648"),
        ],
        "SpanAttributeTypes": "sssisi",
        "Duration": 1431000,
        "StatusCode": StatusCode.UNSET,
        "StatusMessage": "",
        "Events": [],
        "Links": [],
    }


def test_client_and_shared_server_halves_stay_two_spans() -> None:
    result = decode_json((TESTDATA / "client_and_shared_server.json").read_bytes())
    assert result.rejected == 0
    client, server = rows(result)
    trace_id = "7180c278b62e8f6a216a2aea45d08fc9"
    assert (client["TraceId"], client["SpanId"]) == (trace_id, "5b4185666d50f68b")
    assert (server["TraceId"], server["SpanId"]) == (trace_id, "5b4185666d50f68b")
    assert client["ParentSpanId"] == server["ParentSpanId"] == "6b221d5bc9e6496c"

    assert client["SpanKind"] == SpanKind.CLIENT
    assert (client["Timestamp"], client["Duration"]) == (1472470996199000000, 207000000)
    assert client["ServiceName"] == "frontend"
    assert client["StatusCode"] == StatusCode.ERROR
    assert client["StatusMessage"] == "502 Bad Gateway"
    assert span_attrs(client) == {
        "clnt/finagle.version": ("6.45.0", "s"),
        "http.path": ("/api", "s"),
        "net.host.ip": ("2001:db8::c001", "s"),
        "peer.service": ("backend", "s"),
        "net.peer.ip": ("192.168.99.101", "s"),
        "net.peer.port": ("9000", "i"),
    }
    assert client["Events"] == [
        {"Timestamp": 1472470996238000000, "Name": "foo", "Attributes": [], "AttributeTypes": ""},
        {"Timestamp": 1472470996403000000, "Name": "bar", "Attributes": [], "AttributeTypes": ""},
    ]

    assert server["SpanKind"] == SpanKind.SERVER
    assert (server["Timestamp"], server["Duration"]) == (1472470996250000000, 150000000)
    assert server["ServiceName"] == "backend"
    assert resource_attrs(server) == {"service.name": ("backend", "s")}
    assert (server["StatusCode"], server["StatusMessage"]) == (StatusCode.OK, "")
    assert span_attrs(server) == {
        "http.path": ("/api", "s"),
        "net.host.ip": ("192.168.99.101", "s"),
        "net.host.port": ("9000", "i"),
        "net.peer.ip": ("127.0.0.1", "s"),
        "net.peer.port": ("63840", "i"),
        SHARED_KEY: ("true", "b"),
        DEBUG_KEY: ("true", "b"),
    }

    # ... and go back out as two Zipkin spans, the server one flagged shared again.
    out_client, out_server = to_zipkin_spans(result.batch)
    assert "shared" not in out_client
    assert out_server["shared"] is True
    assert out_server["debug"] is True
    assert out_client["tags"]["error"] == "502 Bad Gateway"
    assert out_client["tags"]["otel.status_code"] == "ERROR"
    assert out_client["remoteEndpoint"] == {
        "serviceName": "backend",
        "ipv4": "192.168.99.101",
        "port": 9000,
    }
    assert out_client["localEndpoint"] == {"serviceName": "frontend", "ipv6": "2001:db8::c001"}


# --- real client payloads: py_zipkin ----------------------------------------------------------


class Capture(BaseTransportHandler):
    """A py_zipkin transport that keeps the encoded payloads instead of sending them."""

    def __init__(self) -> None:
        self.payloads: list[str | bytes] = []

    def get_max_payload_bytes(self) -> int | None:
        return None

    def send(self, payload: str | bytes) -> None:
        self.payloads.append(payload)


def _py_zipkin_trace(encoding: Encoding) -> tuple[bytes, str]:
    """A propagated server span (py_zipkin marks it shared) with one client child."""
    transport = Capture()
    attrs = ZipkinAttrs(
        trace_id="a1b2c3d4e5f60718",
        span_id="1111222233334444",
        parent_span_id="9999888877776666",
        flags="0",
        is_sampled=True,
    )
    with zipkin_span(
        service_name="checkout",
        span_name="POST /pay",
        zipkin_attrs=attrs,
        transport_handler=transport,
        encoding=encoding,
        kind=Kind.SERVER,
        host="10.1.2.3",
        port=8080,
        binary_annotations={"http.method": "POST"},
    ) as server:
        server.add_annotation("validated", timestamp=1700000000.5)
        with zipkin_span(
            service_name="checkout",
            span_name="charge",
            kind=Kind.CLIENT,
            timestamp=1700000000.25,
            duration=0.125,
            binary_annotations={"card": "visa"},
        ) as client:
            client.add_sa_binary_annotation(port=443, service_name="bank", host="192.0.2.7")
            client.add_annotation("sent", timestamp=1700000000.375)
            assert client.zipkin_attrs is not None
            assert client.zipkin_attrs.span_id is not None
            client_id = client.zipkin_attrs.span_id
    [payload] = transport.payloads
    return (payload.encode() if isinstance(payload, str) else payload), client_id


@pytest.mark.parametrize(
    ("encoding", "decode"),
    [(Encoding.V2_JSON, decode_json), (Encoding.V2_PROTO3, decode_proto)],
)
def test_py_zipkin_payloads_decode(encoding: Encoding, decode: Any) -> None:
    payload, client_id = _py_zipkin_trace(encoding)
    result = decode(payload)
    assert (result.rejected, result.error) == (0, "")
    client, server = rows(result)  # py_zipkin reports children first

    trace_id = "0000000000000000a1b2c3d4e5f60718"
    assert (client["TraceId"], client["SpanId"]) == (trace_id, client_id)
    assert client["ParentSpanId"] == "1111222233334444"
    assert client["SpanName"] == "charge"
    assert client["SpanKind"] == SpanKind.CLIENT
    assert (client["Timestamp"], client["Duration"]) == (1700000000250000000, 125000000)
    assert client["ServiceName"] == "checkout"
    assert span_attrs(client) == {
        "card": ("visa", "s"),
        "net.host.ip": ("10.1.2.3", "s"),
        "net.host.port": ("8080", "i"),
        "peer.service": ("bank", "s"),
        "net.peer.ip": ("192.0.2.7", "s"),
        "net.peer.port": ("443", "i"),
    }
    assert [(e["Name"], e["Timestamp"]) for e in client["Events"]] == [
        ("sent", 1700000000375000000)
    ]

    assert (server["TraceId"], server["SpanId"]) == (trace_id, "1111222233334444")
    assert server["ParentSpanId"] == "9999888877776666"
    assert server["SpanName"] == "POST /pay"
    assert server["SpanKind"] == SpanKind.SERVER
    assert server["Timestamp"] > 0
    assert server["Duration"] >= 0
    assert server["ServiceName"] == "checkout"
    assert span_attrs(server) == {
        "http.method": ("POST", "s"),
        "net.host.ip": ("10.1.2.3", "s"),
        "net.host.port": ("8080", "i"),
        SHARED_KEY: ("true", "b"),
    }
    assert [(e["Name"], e["Timestamp"]) for e in server["Events"]] == [
        ("validated", 1700000000500000000)
    ]


# --- real client payloads: the OpenTelemetry SDK's Zipkin exporter ------------------------------


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append(self.rfile.read(length))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _otel_sdk_zipkin_payload() -> tuple[bytes, str, str]:
    """What ``opentelemetry-exporter-zipkin-json`` POSTs, caught by a loopback HTTP server."""
    _Collector.bodies.clear()
    with ThreadingHTTPServer(("127.0.0.1", 0), _Collector) as collector:
        thread = threading.Thread(target=collector.serve_forever, daemon=True)
        thread.start()
        exporter = ZipkinExporter(
            endpoint=f"http://127.0.0.1:{collector.server_address[1]}/api/v2/spans",
            local_node_ipv4="10.0.0.1",
            local_node_port=8443,
            timeout=10,
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "cart"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("shop.cart", "3.1")
        span = tracer.start_span(
            "checkout", kind=OtelSpanKind.SERVER, start_time=1700000000000000000
        )
        span.set_attributes({"http.response.status_code": 500, "retry": True})
        span.add_event("exception", {"exception.type": "ValueError", "n": 2}, 1700000000001000000)
        span.set_status(Status(OtelStatusCode.ERROR, "bad cart"))
        span.end(end_time=1700000000002000000)
        context = span.get_span_context()
        provider.shutdown()
        collector.shutdown()
        thread.join(timeout=10)
    [body] = _Collector.bodies
    return body, f"{context.trace_id:032x}", f"{context.span_id:016x}"


def test_opentelemetry_sdk_zipkin_exporter_payload_decodes() -> None:
    body, trace_id, span_id = _otel_sdk_zipkin_payload()
    result = decode_json(body)
    assert (result.rejected, result.error) == (0, "")
    [row] = rows(result)
    assert (row["TraceId"], row["SpanId"]) == (trace_id, span_id)
    assert row["ParentSpanId"] == ""
    assert row["SpanName"] == "checkout"
    assert row["SpanKind"] == SpanKind.SERVER
    assert (row["Timestamp"], row["Duration"]) == (1700000000000000000, 2000000)
    assert row["ServiceName"] == "cart"
    assert (row["ScopeName"], row["ScopeVersion"]) == ("shop.cart", "3.1")
    assert (row["StatusCode"], row["StatusMessage"]) == (StatusCode.ERROR, "bad cart")
    resource = resource_attrs(row)
    assert resource["service.name"] == ("cart", "s")
    assert resource["telemetry.sdk.name"] == ("opentelemetry", "s")
    assert span_attrs(row) == {
        "http.response.status_code": ("500", "s"),  # Zipkin tags are text
        "retry": ("true", "s"),
        "net.host.ip": ("10.0.0.1", "s"),
        "net.host.port": ("8443", "i"),
        DEBUG_KEY: ("true", "b"),  # this exporter writes "debug": sampled
    }
    [event] = row["Events"]  # the spec's {"name": {attributes}} spelling
    assert (event["Timestamp"], event["Name"]) == (1700000000001000000, "exception")
    assert typed(event["Attributes"], event["AttributeTypes"]) == {
        "exception.type": ("ValueError", "s"),
        "n": ("2", "i"),
    }


def _encoded(encoding: Encoding, spans: list[PyZipkinSpan]) -> bytes:
    encoder = get_encoder(encoding)
    payload = encoder.encode_queue([encoder.encode_span(span) for span in spans])
    return payload.encode() if isinstance(payload, str) else payload


@pytest.mark.parametrize(
    ("encoding", "decode"),
    [(Encoding.V2_JSON, decode_json), (Encoding.V2_PROTO3, decode_proto)],
)
def test_py_zipkin_encoder_messaging_spans_with_ipv6(encoding: Encoding, decode: Any) -> None:
    common: dict[str, Any] = {
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "timestamp": 1700000001.0,
        "duration": 0.5,
    }
    producer = PyZipkinSpan(
        name="publish",
        parent_id=None,
        span_id="00f067aa0ba902b7",
        kind=Kind.PRODUCER,
        local_endpoint=Endpoint("orders", None, "2001:db8::1", 4000),
        remote_endpoint=Endpoint("kafka", None, "2001:db8::2", 9092),
        tags={"messaging.system": "kafka", "otel.scope.name": "orders.kafka"},
        debug=True,
        **common,
    )
    consumer = PyZipkinSpan(
        name="process",
        parent_id="00f067aa0ba902b7",
        span_id="00f067aa0ba902b8",
        kind=Kind.CONSUMER,
        local_endpoint=Endpoint("billing", "10.0.0.9", None, None),
        annotations={"retry": 1700000001.25},
        **common,
    )
    result = decode(_encoded(encoding, [producer, consumer]))
    assert result.rejected == 0
    out_producer, out_consumer = rows(result)
    assert out_producer["TraceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert (out_producer["SpanId"], out_producer["ParentSpanId"]) == ("00f067aa0ba902b7", "")
    assert out_producer["SpanKind"] == SpanKind.PRODUCER
    assert out_producer["ScopeName"] == "orders.kafka"
    assert (out_producer["Timestamp"], out_producer["Duration"]) == (
        1700000001000000000,
        500000000,
    )
    expected = {
        "messaging.system": ("kafka", "s"),
        "net.host.ip": ("2001:db8::1", "s"),
        "net.host.port": ("4000", "i"),
        "peer.service": ("kafka", "s"),
        "net.peer.ip": ("2001:db8::2", "s"),
        "net.peer.port": ("9092", "i"),
    }
    if encoding is Encoding.V2_PROTO3:  # py_zipkin's JSON encoder never writes "debug"
        expected[DEBUG_KEY] = ("true", "b")
    assert span_attrs(out_producer) == expected
    assert out_consumer["SpanKind"] == SpanKind.CONSUMER
    assert out_consumer["ParentSpanId"] == "00f067aa0ba902b7"
    assert out_consumer["ServiceName"] == "billing"
    assert span_attrs(out_consumer) == {"net.host.ip": ("10.0.0.9", "s")}
    assert [(e["Name"], e["Timestamp"]) for e in out_consumer["Events"]] == [
        ("retry", 1700000001250000000)
    ]


# --- mapping details ---------------------------------------------------------------------------


def one(span: dict[str, Any], limits: DecodeLimits | None = None) -> dict[str, Any]:
    result = decode_json(orjson.dumps([span]), limits or DecodeLimits())
    assert (result.rejected, result.error) == (0, "")
    [row] = rows(result)
    return row


BASE = {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7"}


@pytest.mark.parametrize(
    ("tags", "status", "message", "left"),
    [
        ({"otel.status_code": "ERROR", "error": ""}, StatusCode.ERROR, "", {}),
        ({"otel.status_code": "ERROR", "error": "boom"}, StatusCode.ERROR, "boom", {}),
        (
            {"otel.status_code": "STATUS_CODE_ERROR", "otel.status_description": "d"},
            StatusCode.ERROR,
            "d",
            {},
        ),
        ({"error": "true"}, StatusCode.ERROR, "", {}),
        ({"error": "timeout"}, StatusCode.ERROR, "timeout", {}),
        ({"otel.status_code": "OK"}, StatusCode.OK, "", {}),
        ({"error": "false"}, StatusCode.UNSET, "", {"error": "false"}),
        ({"otel.status_code": "weird"}, StatusCode.UNSET, "", {"otel.status_code": "weird"}),
    ],
)
def test_status_tags(
    tags: dict[str, str], status: StatusCode, message: str, left: dict[str, str]
) -> None:
    row = one({**BASE, "timestamp": 1, "tags": tags})
    assert (row["StatusCode"], row["StatusMessage"]) == (status, message)
    left_typed = {key: (value, "s") for key, value in left.items()}
    assert {k: v for k, v in span_attrs(row).items() if k != START_TIME_ABSENT_KEY} == left_typed


def test_special_tags_become_span_fields() -> None:
    row = one(
        {
            **BASE,
            "timestamp": 1700000000000000,
            "tags": {
                "otel.library.name": "old-lib",
                "otel.scope.name": "new-lib",
                "otel.scope.version": "1.2",
                "w3c.tracestate": "vendor=1",
                "span.kind": "internal",
                "host.name": "node-7",
                "telemetry.sdk.language": "go",
                "otlp.link.0": "4bf92f3577b34da6a3ce929d0e0e4736|00f067aa0ba902b9|k=v|"
                '{"n":2,"s":"x","f":1.5,"b":true}|0',
                "otlp.link.1": "not|a|link",
                "app": "kept",
            },
        }
    )
    assert (row["ScopeName"], row["ScopeVersion"]) == ("new-lib", "1.2")
    assert row["TraceState"] == "vendor=1"
    assert row["SpanKind"] == SpanKind.INTERNAL
    assert row["ServiceName"] == UNKNOWN_SERVICE
    assert resource_attrs(row) == {
        "host.name": ("node-7", "s"),
        "telemetry.sdk.language": ("go", "s"),
    }
    assert span_attrs(row) == {"otlp.link.1": ("not|a|link", "s"), "app": ("kept", "s")}
    [link] = row["Links"]
    assert (link["TraceId"], link["SpanId"], link["TraceState"]) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b9",
        "k=v",
    )
    assert typed(link["Attributes"], link["AttributeTypes"]) == {
        "n": ("2", "i"),
        "s": ("x", "s"),
        "f": ("1.5", "d"),
        "b": ("true", "b"),
    }


def test_annotation_attribute_formats_only_when_they_parse() -> None:
    row = one(
        {
            **BASE,
            "timestamp": 1,
            "annotations": [
                {"timestamp": 2, "value": 'exception|{"exception.type":"IOError","n":3}|0'},
                {"timestamp": 3, "value": "a|b"},
                {"timestamp": 4, "value": "a|not json|0"},
                {"timestamp": 5, "value": '{"cache miss": {"keys": ["a", "b"], "ratio": 0.5}}'},
                {"timestamp": 6, "value": '{"a": 1}'},
            ],
        }
    )
    first, second, third, fourth, fifth = row["Events"]
    assert fourth["Name"] == "cache miss"
    assert typed(fourth["Attributes"], fourth["AttributeTypes"]) == {
        "keys": ('["a","b"]', "a"),
        "ratio": ("0.5", "d"),
    }
    assert (fifth["Name"], fifth["Attributes"]) == ('{"a": 1}', [])
    assert first["Name"] == "exception"
    assert typed(first["Attributes"], first["AttributeTypes"]) == {
        "exception.type": ("IOError", "s"),
        "n": ("3", "i"),
    }
    assert (second["Name"], second["Attributes"]) == ("a|b", [])
    assert (third["Name"], third["Attributes"]) == ("a|not json|0", [])


def test_missing_timestamp_is_kept_at_zero_and_marked() -> None:
    row = one({**BASE, "name": "late", "duration": 10})
    assert (row["Timestamp"], row["Duration"]) == (0, 10000)
    assert span_attrs(row)[START_TIME_ABSENT_KEY] == ("true", "b")
    [out] = to_zipkin_spans(decode_json(orjson.dumps([{**BASE, "duration": 10}])).batch)
    assert "timestamp" not in out
    assert out["duration"] == 10
    assert START_TIME_ABSENT_KEY not in out.get("tags", {})


def test_explicit_peer_service_tag_wins_over_remote_endpoint() -> None:
    row = one(
        {
            **BASE,
            "timestamp": 1,
            "remoteEndpoint": {"serviceName": "from-endpoint", "ipv4": "not-an-ip", "port": 0},
            "tags": {"peer.service": "from-tag"},
        }
    )
    assert span_attrs(row) == {"peer.service": ("from-tag", "s")}


def test_short_and_64_bit_ids_are_padded_and_self_parent_is_a_root() -> None:
    row = one({"traceId": "ABC", "id": "7", "parentId": "0000000000000007", "timestamp": 5})
    assert row["TraceId"] == "0" * 29 + "abc"
    assert row["SpanId"] == "0000000000000007"
    assert row["ParentSpanId"] == ""


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"id": "00f067aa0ba902b7"}, "traceId is required"),
        ({"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}, "id is required"),
        ({**BASE, "traceId": "0" * 32}, "all zeros"),
        ({**BASE, "traceId": "xyz"}, "traceId"),
        ({**BASE, "id": "00f067aa0ba902b7ff"}, "id"),
        ({**BASE, "parentId": "zz"}, "parentId"),
        ({**BASE, "timestamp": -1}, "timestamp"),
        ({**BASE, "timestamp": 2**62}, "timestamp"),
        ({**BASE, "duration": -5}, "duration"),
        ({**BASE, "timestamp": "now"}, "timestamp"),
        ({**BASE, "tags": ["a"]}, "tags"),
        ({**BASE, "annotations": [{"value": "x"}]}, "annotation"),
        ({**BASE, "localEndpoint": "frontend"}, "localEndpoint"),
        ("not a span", "JSON object"),
    ],
)
def test_bad_spans_are_rejected_and_the_rest_kept(span: Any, reason: str) -> None:
    good = {**BASE, "timestamp": 1700000000000000, "name": "good"}
    result = decode_json(orjson.dumps([good, span, good]))
    assert result.rejected == 1
    assert result.error.startswith("1 span(s) rejected; first: span #1: ")
    assert reason in result.error
    assert [row["SpanName"] for row in rows(result)] == ["good", "good"]


def test_bad_proto_spans_are_rejected() -> None:
    message = zipkin_pb2.ListOfSpans()
    message.spans.add(trace_id=bytes(16), id=b"\x01" * 8)  # all-zero trace id
    message.spans.add(trace_id=b"\x01" * 3, id=b"\x01" * 8)
    message.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 4)
    message.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 8, parent_id=b"\x02", timestamp=9)
    message.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 8, timestamp=2**63)
    message.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 8, timestamp=9, name="ok")
    result = decode_proto(message.SerializeToString())
    assert result.rejected == 5
    assert "span #0: traceId: trace id must not be all zeros" in result.error
    assert [row["SpanName"] for row in rows(result)] == ["ok"]


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"spans": []}', b"[1,", b"\xff", b'"x"', b"null", b"[" * 5000, b'["\\ud800"]'],
)
def test_json_body_that_is_not_a_list_is_bad_input(body: bytes) -> None:
    with pytest.raises(BadInput):
        decode_json(body)


def test_proto_body_that_does_not_parse_is_bad_input() -> None:
    with pytest.raises(BadInput):
        decode_proto(b"\x0a\xff\xff\xff\xff\x0f")


def test_empty_list_is_an_empty_batch() -> None:
    assert decode_json(b"[]").batch.num_rows == 0
    assert decode_proto(b"").batch.num_rows == 0


def test_limits_truncate_and_drop_with_marks() -> None:
    limits = DecodeLimits(max_spans=2, max_attributes=3, max_value_length=4, max_events=1)
    row = one(
        {
            **BASE,
            "timestamp": 1,
            "tags": {"a": "123456", "b": "x", "c": "y", "d": "z"},
            "annotations": [{"timestamp": 2, "value": "e1"}, {"timestamp": 3, "value": "e2"}],
        },
        limits,
    )
    attrs = span_attrs(row)
    assert attrs["a"] == ("1234", "s")
    assert "d" not in attrs
    assert attrs[TRUNCATED_KEY] == ("1", "i")
    assert attrs[DROPPED_ATTRIBUTES_KEY] == ("1", "i")
    assert attrs[DROPPED_EVENTS_KEY] == ("1", "i")
    assert DROPPED_LINKS_KEY not in attrs
    assert [event["Name"] for event in row["Events"]] == ["e1"]
    tags = {"a": "1", "b": "2", "c": "3", "d": "4"}
    shared = span_attrs(one({**BASE, "shared": True, "tags": tags}, limits))
    assert shared[SHARED_KEY] == ("true", "b")  # our marks survive the cap
    assert shared[START_TIME_ABSENT_KEY] == ("true", "b")
    assert shared[DROPPED_ATTRIBUTES_KEY] == ("1", "i")
    assert "d" not in shared
    with pytest.raises(BadInput, match="limit is 2"):
        decode_json(orjson.dumps([BASE, BASE, BASE]), limits)
    proto = zipkin_pb2.ListOfSpans()
    for _ in range(3):
        proto.spans.add(trace_id=b"\x01" * 8, id=b"\x01" * 8)
    with pytest.raises(BadInput, match="limit is 2"):
        decode_proto(proto.SerializeToString(), limits)


# --- round trip through to_zipkin_spans ---------------------------------------------------------

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_700_000_000_000_000_000


def _round_trip_batch() -> SpanBatch:
    resource = {"service.name": "shop", "host.name": "web-1", "deployment.environment": "prod"}
    return batch_from_spans(
        [
            Span(
                trace_id=TRACE,
                span_id="1000000000000001",
                name="GET /cart",
                service="shop",
                start_ns=T0,
                duration_ns=50_000_000,
                kind=SpanKind.SERVER,
                resource=resource,
                attributes={"http.response.status_code": 200, "http.route": "/cart"},
                scope_name="shop.http",
                scope_version="2.0.1",
                trace_state="vendor=abc",
            ),
            Span(
                trace_id=TRACE,
                span_id="1000000000000002",
                parent_span_id="1000000000000001",
                name="GET /stock",
                service="shop",
                start_ns=T0 + 1_000_000,
                duration_ns=20_000_000,
                kind=SpanKind.CLIENT,
                resource=resource,
                status=StatusCode.ERROR,
                status_message="connection reset",
                attributes={
                    "peer.service": "stock",
                    "net.peer.ip": "10.0.0.5",
                    "net.peer.port": 8081,
                    "retry": True,
                    "sizes": [1, 2, 3],
                    "ratio": 0.25,
                },
                events=[
                    Event(T0 + 2_000_000, "retry", {"attempt": 2, "why": "reset", "ok": False}),
                    Event(T0 + 3_000_000, "gave up", {}),
                ],
                links=[Link(TRACE, "1000000000000009", "k=v", {"link.kind": "follows"})],
            ),
            Span(
                trace_id=TRACE,
                span_id="1000000000000003",
                parent_span_id="1000000000000001",
                name="publish order",
                service="shop",
                start_ns=T0 + 30_000_000,
                duration_ns=1_000,
                kind=SpanKind.PRODUCER,
                resource=resource,
                status=StatusCode.OK,
                attributes={"peer.service": "kafka", "messaging.system": "kafka"},
            ),
            Span(
                trace_id=TRACE,
                span_id="1000000000000004",
                parent_span_id="1000000000000003",
                name="consume order",
                service="billing",
                start_ns=T0 + 40_000_000,
                duration_ns=5_000_000,
                kind=SpanKind.CONSUMER,
                attributes={"net.host.ip": "10.0.0.7", "net.host.port": 9000},
            ),
            Span(
                trace_id=TRACE,
                span_id="1000000000000005",
                parent_span_id="1000000000000004",
                name="compute total",
                service="billing",
                start_ns=T0 + 41_000_000,
                duration_ns=2_000_000,
                kind=SpanKind.INTERNAL,
            ),
        ]
    )


def test_round_trip_through_zipkin_json() -> None:
    batch = _round_trip_batch()
    zipkin_spans = to_zipkin_spans(batch)
    client_json = zipkin_spans[1]
    assert client_json["remoteEndpoint"] == {
        "serviceName": "stock",
        "ipv4": "10.0.0.5",
        "port": 8081,
    }
    assert client_json["tags"]["sizes"] == "[1,2,3]"
    assert client_json["tags"]["retry"] == "true"
    assert client_json["tags"]["error"] == "connection reset"
    assert (
        client_json["annotations"][0]["value"] == 'retry|{"attempt":2,"why":"reset","ok":false}|0'
    )
    assert "kind" not in zipkin_spans[4]
    assert "parentId" not in zipkin_spans[0]
    assert all(isinstance(span.get("timestamp"), int) for span in zipkin_spans)

    result = decode_json(orjson.dumps(zipkin_spans))
    assert result.rejected == 0
    before, after = batch.to_pylist(), rows(result)
    assert len(after) == len(before)
    for original, decoded in zip(before, after, strict=True):
        for column in (
            "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName",
            "SpanKind", "ServiceName", "ScopeName", "ScopeVersion", "Duration", "StatusCode",
            "StatusMessage", "Events", "Links",
        ):  # fmt: skip
            assert decoded[column] == original[column], column
        # Attributes come back as Zipkin text (ports as ints, as the translator reads them).
        original_text = {key: value for key, value in original["SpanAttributes"]}
        decoded_attrs = span_attrs(decoded)
        assert {key: value for key, (value, _) in decoded_attrs.items()} == original_text
        assert {code for key, (_, code) in decoded_attrs.items() if "port" not in key} <= {"s"}
        assert resource_attrs(decoded) == typed(
            original["ResourceAttributes"], original["ResourceAttributeTypes"]
        )


# --- properties -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "traceId", "id", "parentId", "name", "kind", "timestamp", "duration", "localEndpoint",
    "remoteEndpoint", "annotations", "tags", "debug", "shared",
]  # fmt: skip
span_shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))


def _only_bad_input(decode: Any, body: bytes) -> None:
    try:
        result = decode(body)
    except BadInput:
        return
    assert result.batch.schema == SPAN_SCHEMA
    assert (result.rejected == 0) == (result.error == "")


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bad_input(body: bytes) -> None:
    _only_bad_input(decode_json, body)
    _only_bad_input(decode_proto, body)


@SETTINGS
@given(json_values | st.lists(json_values | span_shaped, max_size=5))
def test_random_json_raises_only_bad_input(value: Any) -> None:
    _only_bad_input(decode_json, orjson.dumps(value))


@SETTINGS
@given(st.lists(span_shaped, max_size=5))
def test_random_span_shaped_json_counts_every_span(spans: list[dict[str, Any]]) -> None:
    result = decode_json(orjson.dumps(spans))
    assert result.batch.num_rows + result.rejected == len(spans)


hex_trace_ids = st.integers(1, 2**64 - 1).map("{:016x}".format) | st.integers(1, 2**128 - 1).map(
    "{:032x}".format
)
hex_span_ids = st.integers(1, 2**64 - 1).map("{:016x}".format)
micros = st.integers(min_value=1, max_value=4_000_000_000_000_000)  # up to the year 2096
tag_keys = st.from_regex(r"app\.[a-z0-9_.]{1,12}", fullmatch=True)
ips = st.ip_addresses().map(str)
endpoints = st.fixed_dictionaries(
    {"serviceName": st.text(min_size=1, max_size=10)},
    optional={"ipv4": st.ip_addresses(v=4).map(str), "port": st.integers(1, 65535)},
)
remote_endpoints = st.fixed_dictionaries(
    {},
    optional={
        "serviceName": st.text(min_size=1, max_size=10),
        "ipv6": st.ip_addresses(v=6).map(str),
        "port": st.integers(1, 65535),
    },
)
valid_spans = st.fixed_dictionaries(
    {
        "traceId": hex_trace_ids,
        "id": hex_span_ids,
        "timestamp": micros,
        "localEndpoint": endpoints,
        "tags": st.dictionaries(tag_keys, st.text(max_size=30), max_size=8),
        "annotations": st.lists(
            st.fixed_dictionaries(
                {"timestamp": micros, "value": st.text(max_size=15).filter(lambda v: "|" not in v)}
            ),
            max_size=3,
        ),
    },
    optional={
        "parentId": hex_span_ids,
        "name": st.text(max_size=20),
        "kind": st.sampled_from(["CLIENT", "SERVER", "PRODUCER", "CONSUMER"]),
        "duration": st.integers(0, 10**12),
        "remoteEndpoint": remote_endpoints,
        "debug": st.booleans(),
        "shared": st.booleans(),
    },
)


def _to_proto(spans: list[dict[str, Any]]) -> bytes:
    message = zipkin_pb2.ListOfSpans()
    kinds = {"CLIENT": 1, "SERVER": 2, "PRODUCER": 3, "CONSUMER": 4}
    for span in spans:
        pb = message.spans.add(
            trace_id=bytes.fromhex(span["traceId"]),
            id=bytes.fromhex(span["id"]),
            parent_id=bytes.fromhex(span.get("parentId", "")),
            kind=kinds.get(span.get("kind", ""), 0),
            name=span.get("name", ""),
            timestamp=span["timestamp"],
            duration=span.get("duration", 0),
            debug=span.get("debug", False),
            shared=span.get("shared", False),
        )
        for field, endpoint in (
            ("local_endpoint", span["localEndpoint"]),
            ("remote_endpoint", span.get("remoteEndpoint")),
        ):
            if endpoint is None:
                continue
            target = getattr(pb, field)
            target.SetInParent()
            target.service_name = endpoint.get("serviceName", "")
            target.port = endpoint.get("port", 0)
            for key in ("ipv4", "ipv6"):
                if key in endpoint:
                    setattr(target, key, ipaddress.ip_address(endpoint[key]).packed)
        pb.tags.update(span["tags"])
        for annotation in span["annotations"]:
            pb.annotations.add(timestamp=annotation["timestamp"], value=annotation["value"])
    return message.SerializeToString()


@SETTINGS
@given(st.lists(valid_spans, max_size=4))
def test_valid_spans_keep_ids_times_and_tags(spans: list[dict[str, Any]]) -> None:
    result = decode_json(orjson.dumps(spans))
    assert result.rejected == 0, result.error
    decoded = rows(result)
    for span, row in zip(spans, decoded, strict=True):
        assert row["TraceId"] == span["traceId"].rjust(32, "0")
        assert row["SpanId"] == span["id"]
        parent = span.get("parentId", "")
        assert row["ParentSpanId"] == ("" if parent == span["id"] else parent)
        assert row["Timestamp"] == span["timestamp"] * 1000
        assert row["Duration"] == span.get("duration", 0) * 1000
        assert row["ServiceName"] == span["localEndpoint"]["serviceName"]
        attrs = span_attrs(row)
        assert {key: attrs[key] for key in span["tags"]} == {
            key: (value, "s") for key, value in span["tags"].items()
        }
        assert [(e["Timestamp"], e["Name"]) for e in row["Events"]] == [
            (a["timestamp"] * 1000, a["value"]) for a in span["annotations"]
        ]
        assert (SHARED_KEY in attrs) == span.get("shared", False)
        assert (DEBUG_KEY in attrs) == span.get("debug", False)

    # The proto3 form of the same spans decodes to the same batch (proto maps are unordered).
    assert [unordered(row) for row in rows(decode_proto(_to_proto(spans)))] == [
        unordered(row) for row in decoded
    ]
    # Our Zipkin output decodes back to the same batch.
    assert rows(decode_json(orjson.dumps(to_zipkin_spans(result.batch)))) == decoded


def test_float_microseconds_are_accepted_and_truncated() -> None:
    row = one({**BASE, "timestamp": 1700000000000000.7, "duration": 12.9})
    assert (row["Timestamp"], row["Duration"]) == (1700000000000000000, 12000)


def test_export_falls_back_on_the_spec_ranking_for_the_remote_endpoint() -> None:
    common: dict[str, Any] = {"trace_id": TRACE, "service": "web", "start_ns": T0}
    client, server, internal = to_zipkin_spans(
        batch_from_spans(
            [
                Span(
                    span_id="2000000000000001",
                    name="query",
                    duration_ns=1_500,
                    kind=SpanKind.CLIENT,
                    attributes={"server.address": "db.internal", "db.name": "orders"},
                    **common,
                ),
                Span(
                    span_id="2000000000000002",
                    name="serve",
                    duration_ns=999,
                    kind=SpanKind.SERVER,
                    attributes={
                        "server.address": "ignored-for-servers",
                        "network.peer.address": "::ffff:10.1.1.1",
                        "network.peer.port": 51000,
                    },
                    **common,
                ),
                Span(
                    span_id="2000000000000003",
                    name="blob",
                    duration_ns=0,
                    events=[Event(T0, "payload", {"raw": b"\x00\x01"})],
                    **common,
                ),
            ]
        )
    )
    assert client["remoteEndpoint"] == {"serviceName": "db.internal"}
    assert client["tags"]["server.address"] == "db.internal"  # not one of the folded keys
    assert client["duration"] == 1
    assert server["remoteEndpoint"] == {"ipv4": "10.1.1.1", "port": 51000}
    assert server["duration"] == 1  # sub-microsecond, not absent
    assert "remoteEndpoint" not in internal
    assert "duration" not in internal
    assert internal["tags"] == {"span.kind": "internal"}
    assert internal["annotations"] == [
        {"timestamp": T0 // 1000, "value": 'payload|{"raw":"AAE="}|0'}
    ]
    assert to_zipkin_spans(batch_from_spans([])) == []
