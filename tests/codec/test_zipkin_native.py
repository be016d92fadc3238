"""The native Zipkin JSON decoder against the Python one: identical batches, rejected counts and
errors for real tracers' payloads, generated spans under every limit, and bodies mutated at
the byte and the JSON level. (``test_zipkin.py`` runs all its JSON tests on both, too.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from py_zipkin.encoding._types import Encoding
from tests.codec.differential import assert_same, taken_natively
from tests.codec.test_zipkin import (
    _otel_sdk_zipkin_payload,
    _py_zipkin_trace,
    _round_trip_batch,
)

from breadcrumbs.codec import zipkin, zipkin_native
from breadcrumbs.codec.base import DecodeLimits, DecodeResult

pytestmark = pytest.mark.skipif(
    not zipkin_native.AVAILABLE, reason="the native decoder is not built (no Rust toolchain)"
)
DIFFERENTIAL = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TESTDATA = Path(__file__).parent / "zipkin_testdata"
NOW_US = 1_700_000_000_000_000
DEFAULT_LIMITS = DecodeLimits()


def same(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult | str:
    return assert_same(zipkin.decode_json, zipkin_native.decode_json, body, limits)


def decoded_natively(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> bool:
    native = zipkin_native._native
    assert native is not None
    return taken_natively(native.decode_zipkin_json, body, limits)


def test_the_resource_keys_are_the_reference_ones() -> None:
    native = zipkin_native._native
    assert native is not None
    assert set(native.zipkin_resource_keys()) == zipkin._RESOURCE_KEYS


def _real_payloads() -> list[tuple[str, bytes]]:
    batch = _round_trip_batch()
    return [
        ("zipkin api example", (TESTDATA / "zipkin_api_example.json").read_bytes()),
        ("shared server half", (TESTDATA / "client_and_shared_server.json").read_bytes()),
        ("opentelemetry sdk exporter", _otel_sdk_zipkin_payload()[0]),
        ("py_zipkin", _py_zipkin_trace(Encoding.V2_JSON)[0]),
        ("breadcrumbs zipkin api", orjson.dumps(zipkin.to_zipkin_spans(batch))),
    ]


def test_real_payloads_decode_natively_to_the_reference_batch() -> None:
    for name, body in _real_payloads():
        assert decoded_natively(body), name  # the fast path, not the fallback
        result = same(body)
        assert isinstance(result, DecodeResult)
        assert result.batch.num_rows > 0, name


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1", "0.0.0.0", "255.255.255.255", "010.0.0.1", "1.2.3", "1.2.3.4.5", "256.1.1.1",
        "::1", "::", "::ffff:10.1.2.3", "::ffff:0a01:0203", "::1.2.3.4", "2001:db8::1",
        "2001:DB8:0:0:1:0:0:1", "2001:db8:0:0:0:0:2:1", "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "fe80::1%eth0", "1::", "1:0:0:2::3", "::ffff:1.2.3.04", " 10.0.0.1", "", "x",
        "64:ff9b::1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
    ],
)  # fmt: skip
def test_endpoint_addresses(ip: str) -> None:
    span = {"traceId": "a" * 32, "id": "b" * 16, "timestamp": NOW_US}
    for field in ("ipv4", "ipv6"):
        same(orjson.dumps([{**span, "localEndpoint": {field: ip, "port": 80}}]))
        same(orjson.dumps([{**span, "remoteEndpoint": {field: ip, "serviceName": "db"}}]))


@pytest.mark.parametrize(
    "text",
    [
        "OK", "ok", " Error ", "STATUS_CODE_ERROR", "status_code_ok", "UNSET", "false", "FALSE ",
        "\tfalse\x1c", "true", "", " ", "boom", "\u00a0false", "fa\u0131se", "\u212aind",
        "\u017ferver", "SERVER", "span_kind_client", "05", "0", "6", "Internal", "\u0131nternal",
        "consumer\u00a0", "unspecified", "x\u00e9", "\ufb00",
    ],
)  # fmt: skip
def test_special_tags_fold_as_python_does(text: str) -> None:
    span = {"traceId": "a" * 32, "id": "b" * 16, "timestamp": NOW_US}
    for key in ("otel.status_code", "error", "span.kind"):
        tags = {key: text, "otel.status_description": "why"}
        same(orjson.dumps([{**span, "tags": tags}]))
    same(orjson.dumps([{**span, "kind": text}]))


# --- generated spans ---------------------------------------------------------------------------

HEX = "0123456789abcdefABCDEF"
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
attribute_objects = st.dictionaries(st.text(max_size=6), json_scalars, max_size=4)
annotation_values = (
    st.text(max_size=12)
    | st.sampled_from(["{}", "{x}", "a|b|1", "a||0", "n|{}|", "n|[1]|2", '{"a":1,"b":{}}'])
    | st.builds(
        lambda name, attrs: orjson.dumps({name: attrs}).decode(),
        st.text(max_size=6),
        attribute_objects,
    )
    | st.builds(
        lambda name, attrs, dropped: f"{name}|{orjson.dumps(attrs).decode()}|{dropped}",
        st.text(max_size=6),
        attribute_objects,
        st.sampled_from(["0", "12", "x", "", "\u0663"]),
    )
)
TAG_KEYS = [
    "otel.status_code", "otel.status_description", "error", "span.kind", "otel.scope.name",
    "otel.scope.version", "otel.library.name", "otel.library.version", "w3c.tracestate",
    "otlp.service.name.source", "service.name", "host.name", "k8s.pod.name", "net.host.ip",
    "net.host.port", "peer.service", "net.peer.ip", "zipkin.debug", "zipkin.shared",
    "otel.zipkin.absentField.startTime", "otlp.link.0", "http.method", "breadcrumbs.truncated",
]  # fmt: skip
tag_values = (
    st.text(max_size=12)
    | st.sampled_from(["OK", "ERROR", "false", "true", "server", "SPAN_KIND_CLIENT", "3", " x "])
    | json_scalars
)
endpoints = st.fixed_dictionaries(
    {},
    optional={
        "serviceName": st.text(max_size=8),
        "ipv4": st.sampled_from(["10.0.0.1", "", "::1", "bad"]) | st.ip_addresses().map(str),
        "ipv6": st.sampled_from(["::ffff:10.0.0.2", "2001:db8::7"]) | st.ip_addresses().map(str),
        "port": st.integers(min_value=-2, max_value=70_000),
    },
)
spans = st.fixed_dictionaries(
    {
        "traceId": st.text(HEX, min_size=1, max_size=33),
        "id": st.text(HEX, min_size=1, max_size=17),
    },
    optional={
        "parentId": st.text(HEX, max_size=17) | st.just("0000000000000000"),
        "name": st.text(max_size=12),
        "kind": st.sampled_from(["CLIENT", "SERVER", "PRODUCER", "CONSUMER", "client", "x", ""]),
        "timestamp": st.integers(min_value=-1, max_value=2**63 // 1000 + 1) | st.just(NOW_US),
        "duration": st.integers(min_value=-1, max_value=10**10),
        "localEndpoint": endpoints,
        "remoteEndpoint": endpoints,
        "annotations": st.lists(
            st.fixed_dictionaries(
                {"timestamp": st.integers(min_value=0, max_value=2**53), "value": annotation_values}
            ),
            max_size=4,
        ),
        "tags": st.dictionaries(st.sampled_from(TAG_KEYS) | st.text(max_size=6), tag_values),
        "debug": st.booleans(),
        "shared": st.booleans(),
    },
)
limits = st.builds(
    DecodeLimits,
    max_spans=st.integers(min_value=0, max_value=6),
    max_attributes=st.integers(min_value=0, max_value=8),
    max_value_length=st.integers(min_value=0, max_value=12),
    max_events=st.integers(min_value=0, max_value=3),
    max_links=st.integers(min_value=0, max_value=2),
)


@DIFFERENTIAL
@given(st.lists(spans, max_size=5), limits)
def test_generated_spans_under_limits(batch: list[dict[str, Any]], limit: DecodeLimits) -> None:
    same(orjson.dumps(batch), limit)


@DIFFERENTIAL
@given(st.lists(spans, max_size=4))
def test_generated_spans_under_default_limits(batch: list[dict[str, Any]]) -> None:
    same(orjson.dumps(batch))


# --- mutated bodies ----------------------------------------------------------------------------

_DEEP = b'{"a":' * 300 + b"1" + b"}" * 300
FRAGMENTS = [
    b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"\\u00e9t\\u00e9"', b'"\xff"',
    b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"\\x"', b'"a\\"b\\\\"', b'"\\/\\b\\f\\n\\r\\t"',
    b'"\\u0000"', b"1e400", b"-1e400", b"123456789012345678901234567890", b"-0", b"-0.0",
    b"0.0", b"1.5", b"1e2", b"1E+2", b"18446744073709551615", b"18446744073709551616",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775809", b"NaN",
    b"Infinity", b"01", b"1.", b".5", b"[" * 100 + b"]" * 100, b"[" * 1100 + b"]" * 1100,
    _DEEP, b'{"a":1,"a":2}', b'{"a":null,"a":"x"}', b"null",
    b"true", b"false", b"{}", b"[]", b'"0000000000000000"', b'"ABCDEF0123456789"', b'"g1"',
    b'"  "', b"[1,]", b"{,}", b'"\t"',
]  # fmt: skip
MARK = "\u2603MARK\u2603"
DUPLICATES = [
    b'"traceId":"00000000000000aa"', b'"id":"00000000000000bb"', b'"tags":{}',
    b'"name":"x"', b'"timestamp":1', b'"unknown":1', b'"tags":{"a":"1","a":"2"}',
    b'"localEndpoint":{"serviceName":"a","serviceName":"b"}',
]  # fmt: skip


def _marked(span: dict[str, Any], place: str) -> dict[str, Any]:
    """The span with MARK where a fragment goes."""
    span = {**span, "tags": {**span.get("tags", {})}}
    where, _, field = place.partition(".")
    if where == "span":
        span[field] = MARK
    elif where == "tags":
        span["tags"]["k" if field == "value" else MARK] = MARK if field == "value" else "v"
    elif where == "endpoint":
        span["localEndpoint"] = {**span.get("localEndpoint", {}), field: MARK}
    elif where == "annotation":
        annotation: dict[str, Any] = {"timestamp": NOW_US, "value": "a"}
        annotation[field] = MARK
        span["annotations"] = [annotation]
    return span


PLACES = [
    *(f"span.{f}" for f in ["traceId", "id", "parentId", "name", "kind", "timestamp", "duration",
                            "localEndpoint", "annotations", "tags", "debug", "shared"]),
    "tags.value", "tags.key", "endpoint.serviceName", "endpoint.ipv4", "endpoint.port",
    "annotation.timestamp", "annotation.value", "list.element",
]  # fmt: skip


@DIFFERENTIAL
@given(spans, st.sampled_from(PLACES), st.sampled_from(FRAGMENTS))
# a tag nested past what orjson writes back (254 levels): the span is rejected, not a 500
@example({"traceId": "1", "id": "1"}, "tags.value", _DEEP)
def test_json_fragments_in_every_place(span: dict[str, Any], place: str, fragment: bytes) -> None:
    if place == "list.element":
        body = orjson.dumps([span, MARK])
    else:
        body = orjson.dumps([_marked(span, place)])
    marker = orjson.dumps(MARK)
    if place == "tags.key" and not fragment.startswith(b'"'):
        fragment = b'"' + fragment + b'"'  # a key is a string, however odd its contents
    same(body.replace(marker, fragment, 1))


@DIFFERENTIAL
@given(spans, st.sampled_from(DUPLICATES))
def test_duplicate_keys(span: dict[str, Any], duplicate: bytes) -> None:
    body = orjson.dumps([span])
    same(body[:2] + duplicate + b"," + body[2:])  # first occurrence: then the span's own
    same(body[:-2] + b"," + duplicate + body[-2:])  # last occurrence


@DIFFERENTIAL
@given(st.lists(spans, min_size=1, max_size=3), st.data())
def test_byte_mutations(batch: list[dict[str, Any]], data: st.DataObject) -> None:
    body = bytearray(orjson.dumps(batch))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            body[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif action == "delete":
            del body[at]
        else:
            body[at:at] = data.draw(st.sampled_from([b"\\", b'"', b",", b"}", b"\xc3", b"0"]))
        if not body:
            break
    same(bytes(body))
