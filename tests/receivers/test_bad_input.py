"""Bad input against a real server: every refusal is a readable 4xx (never a 5xx), partial
success counts what was dropped, and after all of it the server still serves good spans."""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import orjson
import pytest
from google.rpc import status_pb2  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

PROTO = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
SERVER_ARGS = ("--max-request-bytes", "1MiB", "--max-decompressed-bytes", "4MiB")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as http:
        yield http


def _span(trace_id: bytes, span_id: bytes, name: str = "op", **fields: Any) -> trace_pb2.Span:
    now = time.time_ns()
    values: dict[str, Any] = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": name,
        "start_time_unix_nano": now - 5_000_000,
        "end_time_unix_nano": now,
    }
    values.update(fields)
    return trace_pb2.Span(**values)


def _request(*spans: trace_pb2.Span, service: str = "bad-input") -> bytes:
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value=service)
    )
    resource_spans.scope_spans.add().spans.extend(spans)
    return bytes(request.SerializeToString())


def _ids() -> tuple[bytes, bytes]:
    return os.urandom(16), os.urandom(8)


def _status(response: httpx.Response) -> Any:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_malformed_protobuf_is_400_with_a_status_body(
    server: ServerProcess, client: httpx.Client
) -> None:
    response = client.post(
        server.otlp_http_url + "/v1/traces", content=b"\xff\xff\xff", headers=PROTO
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = _status(response)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message


def test_malformed_json_is_400_with_a_json_status_body(
    server: ServerProcess, client: httpx.Client
) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"resourceSpans": 7}'):
        response = client.post(server.otlp_http_url + "/v1/traces", content=body, headers=JSON)
        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/json"
        assert orjson.loads(response.content)["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_wrong_content_type_is_415(
    server: ServerProcess, client: httpx.Client, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(server.otlp_http_url + "/v1/traces", content=_request(), headers=headers)
    assert response.status_code == 415
    assert "Content-Type" in _status(response).message
    zipkin = client.post(server.zipkin_url + "/api/v2/spans", content=b"[]", headers=headers)
    assert zipkin.status_code == (415 if content_type else 202)


def test_oversize_and_gzip_bombs_are_413(server: ServerProcess, client: httpx.Client) -> None:
    url = server.otlp_http_url + "/v1/traces"
    big = client.post(url, content=b"\0" * (2 << 20), headers=PROTO)
    assert big.status_code == 413
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB on the wire
    response = client.post(url, content=bomb, headers={**PROTO, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in _status(response).message
    zipkin = client.post(
        server.zipkin_url + "/api/v2/spans",
        content=bomb,
        headers={**JSON, "Content-Encoding": "gzip"},
    )
    assert zipkin.status_code == 413
    assert "decompressed" in zipkin.text


def test_chunked_bodies_without_content_length(server: ServerProcess, client: httpx.Client) -> None:
    trace_id, span_id = _ids()
    body = _request(_span(trace_id, span_id, "chunked"))

    def chunks(data: bytes, size: int) -> Iterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    url = server.otlp_http_url + "/v1/traces"
    response = client.post(url, content=chunks(body, 7), headers=PROTO)
    assert response.status_code == 200
    assert "content-length" not in response.request.headers
    assert server.wait_for_spans(trace_id.hex(), 1)["spans"][0]["operationName"] == "chunked"
    too_big = client.post(url, content=chunks(b"\0" * (2 << 20), 64 << 10), headers=PROTO)
    assert too_big.status_code == 413


def test_bad_ids_and_absurd_timestamps_are_partial_success(
    server: ServerProcess, client: httpx.Client
) -> None:
    trace_id, span_id = _ids()
    now = time.time_ns()
    body = _request(
        _span(trace_id, span_id, "good"),
        _span(bytes(16), os.urandom(8), "zero-trace-id"),
        _span(trace_id, bytes(8), "zero-span-id"),
        _span(b"\x01\x02\x03", os.urandom(8), "short-trace-id"),
        _span(trace_id, os.urandom(8), "year-1970", start_time_unix_nano=1, end_time_unix_nano=2),
        _span(
            trace_id,
            os.urandom(8),
            "far-future",
            start_time_unix_nano=now + 10**18,
            end_time_unix_nano=now + 10**18 + 1,
        ),
        _span(
            trace_id, os.urandom(8), "ends-first", start_time_unix_nano=now, end_time_unix_nano=1
        ),
        _span(
            trace_id,
            os.urandom(8),
            "u64-max",
            start_time_unix_nano=2**64 - 1,
            end_time_unix_nano=2**64 - 1,
        ),
    )
    response = client.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTO)
    assert response.status_code == 200
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 7
    assert answer.partial_success.error_message
    kept = server.wait_for_spans(trace_id.hex(), 1)
    assert [span["operationName"] for span in kept["spans"]] == ["good"]

    # the same through JSON: the response is JSON with partialSuccess
    trace_id, span_id = _ids()
    payload = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id.hex(),
                                "spanId": span_id.hex(),
                                "name": "good-json",
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 1000),
                            },
                            {
                                "traceId": "0" * 32,
                                "spanId": span_id.hex(),
                                "name": "zero",
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 1000),
                            },
                            {
                                "traceId": "not-hex",
                                "spanId": span_id.hex(),
                                "name": "not-hex",
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 1000),
                            },
                        ]
                    }
                ]
            }
        ]
    }
    response = client.post(
        server.otlp_http_url + "/v1/traces", content=orjson.dumps(payload), headers=JSON
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    partial = orjson.loads(response.content)["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert server.wait_for_spans(trace_id.hex(), 1)["spans"][0]["operationName"] == "good-json"


def test_huge_attribute_counts_and_values_are_capped_and_marked(
    server: ServerProcess, client: httpx.Client
) -> None:
    trace_id, span_id = _ids()
    many = [
        common_pb2.KeyValue(key=f"k{i}", value=common_pb2.AnyValue(int_value=i))
        for i in range(10_000)
    ]
    huge = common_pb2.KeyValue(key="blob", value=common_pb2.AnyValue(string_value="x" * 1_000_000))
    body = _request(
        _span(trace_id, span_id, "many-attributes", attributes=many),
        _span(trace_id, os.urandom(8), "huge-value", attributes=[huge]),
    )
    assert len(body) > 1 << 20  # over the wire limit: only fits gzip-compressed
    response = client.post(
        server.otlp_http_url + "/v1/traces",
        content=gzip.compress(body),
        headers={**PROTO, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    spans = {s["operationName"]: s for s in server.wait_for_spans(trace_id.hex(), 2)["spans"]}
    many_tags = _tags(spans["many-attributes"])
    assert many_tags["breadcrumbs.dropped_attributes"] == 10_000 - 128
    assert sum(key.startswith("k") for key in many_tags) == 128
    huge_tags = _tags(spans["huge-value"])
    assert huge_tags["breadcrumbs.truncated"] == 1
    assert 0 < len(huge_tags["blob"]) <= 16_384 + 64
    assert huge_tags["blob"].startswith("xxxx")


def test_grpc_bad_data_and_partial_success(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda body: body,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as raised:
            export(b"\xff\xff\xff", timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert raised.value.details()

        stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
        trace_id, span_id = _ids()
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(
            _request(_span(trace_id, span_id, "grpc-good"), _span(bytes(16), span_id, "zero"))
        )
        answer = stub.Export(request, timeout=10, compression=grpc.Compression.Gzip)
        assert answer.partial_success.rejected_spans == 1
    assert server.wait_for_spans(trace_id.hex(), 1)["spans"][0]["operationName"] == "grpc-good"


def test_zipkin_bad_data_is_400_text(server: ServerProcess, client: httpx.Client) -> None:
    url = server.zipkin_url + "/api/v2/spans"
    for body in (b"{not json", b'{"id": 1}', b'[{"traceId": "zz", "id": "1"}]'):
        response = client.post(url, content=body, headers=JSON)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text
    proto = client.post(
        url, content=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"}
    )
    assert proto.status_code == 400


def test_grpc_oversize_and_gzip_bomb_messages_are_refused_by_grpc_itself(
    server: ServerProcess,
) -> None:
    """grpc enforces the decompressed limit while inflating (RESOURCE_EXHAUSTED, its own
    code): a bomb never reaches our decoder nor fills memory."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )
        for body, compression in (
            (os.urandom(5 << 20), None),
            (bytes(64 << 20), grpc.Compression.Gzip),
        ):
            with pytest.raises(grpc.RpcError) as raised:
                export(body, timeout=30, compression=compression)
            assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert httpx.get(server.http_url + "/healthz").status_code == 200


@settings(
    max_examples=40,
    deadline=None,  # no timed assertions on a shared machine
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2048),
        st.builds(lambda spans: _request(*spans), st.just(())),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "x"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ).map(orjson.dumps),
    ),
    content_type=st.sampled_from(["application/x-protobuf", "application/json"]),
)
def test_arbitrary_bodies_never_get_a_5xx(
    server: ServerProcess,
    client: httpx.Client,
    grpc_export: Any,
    body: bytes,
    content_type: str,
) -> None:
    headers = {"Content-Type": content_type}
    for url in (server.otlp_http_url + "/v1/traces", server.zipkin_url + "/api/v2/spans"):
        response = client.post(url, content=body, headers=headers)
        assert response.status_code < 500, (url, response.status_code, response.text)
    if content_type == "application/x-protobuf":
        code = grpc.StatusCode.OK
        try:
            grpc_export(body, timeout=10)
        except grpc.RpcError as error:
            code = error.code()
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT)


@pytest.fixture(scope="module")
def grpc_export(server: ServerProcess) -> Iterator[Any]:
    """A raw-bytes ``TraceService/Export`` callable on one channel for the module."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )


def test_after_all_of_it_the_server_still_serves(
    server: ServerProcess, client: httpx.Client, tmp_path: Path
) -> None:
    # (self-contained: one refusal of each kind checked below, even when run alone)
    client.post(server.otlp_http_url + "/v1/traces", content=b"\0" * (2 << 20), headers=PROTO)
    client.post(
        server.otlp_http_url + "/v1/traces",
        content=_request(_span(bytes(16), bytes(8))),
        headers=PROTO,
    )
    assert client.get(server.http_url + "/healthz").status_code == 200
    assert client.get(server.http_url + "/readyz").status_code == 200
    trace_id, span_id = _ids()
    body = _request(_span(trace_id, span_id, "still-here"))
    assert client.post(server.otlp_http_url + "/v1/traces", content=body, headers=PROTO).is_success
    assert server.wait_for_spans(trace_id.hex(), 1)["spans"][0]["operationName"] == "still-here"
    metrics = client.get(server.http_url + "/metrics").text
    assert (
        'breadcrumbs_receiver_requests_refused_total{reason="too_large",receiver="otlp_http"}'
        in metrics
    )
    assert (
        'breadcrumbs_receiver_spans_refused_total{reason="bad_input",receiver="otlp_http"}'
        in metrics
    )
