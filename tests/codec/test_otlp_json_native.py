"""The native OTLP/JSON decoder against the Python one: identical batches, rejected counts and
errors for SDK payloads, generated requests under every limit (in both spellings), and bodies
mutated at the byte and the JSON level. (``test_otlp.py`` runs all its JSON tests on both.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tests.codec.differential import assert_same, taken_natively
from tests.codec.test_otlp import otlp_json, requests, sdk_request

from breadcrumbs.codec import otlp
from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import json_native

pytestmark = pytest.mark.skipif(
    not json_native.AVAILABLE, reason="the native decoder is not built (no Rust toolchain)"
)
DIFFERENTIAL = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TESTDATA = Path(__file__).parent / "otlp_testdata"
DEFAULT_LIMITS = DecodeLimits()
__all__ = ["sdk_request"]  # a fixture, used by name


def same(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult | str:
    return assert_same(otlp.decode_json, otlp.decode_json_native, body, limits)


def decoded_natively(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> bool:
    native = json_native._native
    assert native is not None
    return taken_natively(native.decode_otlp_json, body, limits)


def test_real_payloads_decode_natively_to_the_reference_batch(
    sdk_request: ExportTraceServiceRequest,
) -> None:
    for name, body in [
        ("every value type", (TESTDATA / "trace.json").read_bytes()),
        ("opentelemetry sdk", otlp_json(sdk_request)),
    ]:
        assert decoded_natively(body), name  # the fast path, not the fallback
        result = same(body)
        assert isinstance(result, DecodeResult)
        assert result.batch.num_rows > 0, name


def _snake(document: Any) -> Any:
    """The document with snake_case field names (OTLP/JSON receivers accept both)."""
    if isinstance(document, dict):
        return {
            re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), key): _snake(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_snake(item) for item in document]
    return document


limits = st.builds(
    DecodeLimits,
    max_spans=st.integers(min_value=0, max_value=8),
    max_attributes=st.integers(min_value=0, max_value=6),
    max_value_length=st.integers(min_value=0, max_value=12),
    max_events=st.integers(min_value=0, max_value=2),
    max_links=st.integers(min_value=0, max_value=2),
)


@DIFFERENTIAL
@given(requests, limits, st.booleans())
def test_generated_requests_under_limits(
    request: ExportTraceServiceRequest, limit: DecodeLimits, snake: bool
) -> None:
    body = otlp_json(request)
    if snake:
        body = orjson.dumps(_snake(orjson.loads(body)))
    same(body, limit)


# --- mutated bodies ----------------------------------------------------------------------------

FRAGMENTS = [
    b'"\\ud800"', b'"\\ud83d\\ude00"', b'"\\u00e9"', b'"\xff"', b'"\xed\xa0\x80"', b'"\\x"',
    b"1e400", b"123456789012345678901234567890", b"-0", b"-0.0", b"0.0", b"1.5", b"-1",
    b"18446744073709551615", b"18446744073709551616", b"9223372036854775808",
    b'"9223372036854775808"', b'"-9223372036854775809"', b'" 12"', b'"+12"', b'"1_0"',
    b'"\\u0661"', b'"12"', b'"NaN"', b'"Infinity"', b'"-Infinity"', b'"inf"', b'"1.5"',
    b"[" * 100 + b"]" * 100, b"[" * 1100 + b"]" * 1100, b'{"a":' * 200 + b"1" + b"}" * 200,
    b"null", b"true", b"{}", b"[]", b'{"a":1,"a":2}', b'"0af7651916cd43dd8448eb211c80319c"',
    b'"0AF7 6519"', b'"b7ad6b7169203331"', b'"zz"', b'"SPAN_KIND_SERVER"', b'"STATUS_CODE_ERROR"',
    b'"span_kind_server"', b'{"stringValue":"s"}', b'{"intValue":"7"}', b'{"doubleValue":1}',
    b'{"boolValue":true}', b'{"bytesValue":"a2FsZQ=="}', b'{"bytesValue":"a2FsZQ"}',
    b'{"bytes_value":"-_8="}', b'{"arrayValue":{"values":[{}]}}', b'{"arrayValue":{}}',
    b'{"kvlistValue":{"values":[{"key":"a"},{"key":"a","value":{"intValue":1}}]}}',
    b'{"stringValue":"a","intValue":1}', b'{"fooValue":1}', b'{"string_value":null}',
]  # fmt: skip
MARK = "\u2603MARK\u2603"
PLACES = [
    "traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano",
    "endTimeUnixNano", "traceState", "status", "status.code", "status.message", "attributes",
    "attribute.key", "attribute.value", "value.intValue", "value.doubleValue",
    "value.stringValue", "events", "event.timeUnixNano", "event.name", "links", "link.traceId",
    "unknown", "flags", "droppedAttributesCount", "scope", "resource",
]  # fmt: skip


def _marked(place: str) -> dict[str, Any]:
    """A one-span request with MARK where a fragment goes."""
    span: dict[str, Any] = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "n",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000100000000",
        "attributes": [{"key": "k", "value": {"stringValue": "v"}}],
    }
    where, _, field = place.partition(".")
    resource: dict[str, Any] = {
        "attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]
    }
    scope_spans: dict[str, Any] = {"scope": {"name": "x"}, "spans": [span]}
    if where in ("scope", "resource"):
        (scope_spans if where == "scope" else resource)["attributes"] = MARK
    elif not field:
        span[where] = MARK
    elif where == "status":
        span["status"] = {field: MARK}
    elif where == "attribute":
        span["attributes"].append(
            {
                "key": MARK if field == "key" else "m",
                "value": MARK if field == "value" else {"stringValue": "x"},
            }
        )
    elif where == "value":
        span["attributes"].append({"key": "m", "value": {field: MARK}})
    elif where == "event":
        span["events"] = [{"timeUnixNano": "1700000000000000001", "name": "e", field: MARK}]
    elif where == "link":
        span["links"] = [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "1" * 16}]
        span["links"][0][field] = MARK
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [scope_spans]}]}


@DIFFERENTIAL
@given(st.sampled_from(PLACES), st.sampled_from(FRAGMENTS))
def test_json_fragments_in_every_place(place: str, fragment: bytes) -> None:
    body = orjson.dumps(_marked(place))
    if place == "attribute.key" and not fragment.startswith(b'"'):
        fragment = b'"' + fragment + b'"'
    same(body.replace(orjson.dumps(MARK), fragment, 1))


def test_duplicate_and_snake_spellings() -> None:
    body = orjson.dumps(_marked("name")).replace(orjson.dumps(MARK), b'"n"')
    for old, new in [
        (b'"name":"n"', b'"name":"a","name":"b"'),
        (b'"name":"n"', b'"name":null,"name":"b"'),
        (b'"spanId"', b'"span_id"'),
        (b'"spanId":"b7ad6b7169203331"', b'"spanId":null,"span_id":"b7ad6b7169203331"'),
        (b'"spanId":"b7ad6b7169203331"', b'"span_id":"1111111111111111","spanId":"b7"'),
        (b'"startTimeUnixNano"', b'"start_time_unix_nano"'),
        (b'"resourceSpans"', b'"resource_spans"'),
        (b'{"stringValue":"v"}', b'{"string_value":"v"}'),
    ]:  # fmt: skip
        same(body.replace(old, new, 1))


@DIFFERENTIAL
@given(requests, st.data())
def test_byte_mutations(request: ExportTraceServiceRequest, data: st.DataObject) -> None:
    body = bytearray(otlp_json(request))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        if not body:
            break
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            body[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif action == "delete":
            del body[at]
        else:
            body[at:at] = data.draw(st.sampled_from([b"\\", b'"', b",", b"}", b"\xc3", b"0"]))
    same(bytes(body))
