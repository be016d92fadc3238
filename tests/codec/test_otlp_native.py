"""The native OTLP protobuf decoder against the Python one: identical batches, rejected counts
and errors for SDK payloads, generated requests, mutated bytes and every limit."""

from __future__ import annotations

import random
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from tests.codec.test_otlp import good_span, kv, request_of, requests, sdk_request

from breadcrumbs.codec import otlp
from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.errors import BadInput

pytestmark = pytest.mark.skipif(
    not otlp.NATIVE_AVAILABLE, reason="the native decoder is not built (no Rust toolchain)"
)
DIFFERENTIAL = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
__all__ = ["sdk_request"]  # a fixture, used by name


def outcome(decoder: otlp.ProtoDecoder, body: bytes, limits: DecodeLimits) -> object:
    try:
        return decoder(body, limits)
    except BadInput as error:
        return f"BadInput: {error.message}"


def assert_same(body: bytes, limits: DecodeLimits = otlp.DEFAULT_LIMITS) -> DecodeResult | str:
    expected = outcome(otlp.decode_proto, body, limits)
    actual = outcome(otlp.decode_proto_native, body, limits)
    if isinstance(expected, DecodeResult):
        assert isinstance(actual, DecodeResult), actual
        assert actual.batch.schema == expected.batch.schema
        assert actual.batch.equals(expected.batch), (
            actual.batch.to_pylist(),
            expected.batch.to_pylist(),
        )
        assert (actual.rejected, actual.error) == (expected.rejected, expected.error)
        return actual
    assert actual == expected
    assert isinstance(expected, str)
    return expected


def test_the_native_decoder_is_built_where_cargo_is() -> None:
    # Skipped with the module where it is not built: this guards the skip itself.
    assert shutil.which("cargo") is None or otlp.NATIVE_AVAILABLE


def test_sdk_payload(sdk_request: ExportTraceServiceRequest) -> None:
    result = assert_same(sdk_request.SerializeToString())
    assert isinstance(result, DecodeResult)
    assert result.batch.num_rows > 0


def test_a_body_with_two_faults_gets_the_reference_message() -> None:
    # Found by the mutation test: bad UTF-8 in a string and, further on, a corrupt length.
    # upb names the UTF-8, the native walk the length; both must say what the reference says.
    body = (
        b"\n\xd8\x03\n\x12\n\x10\n\nhttp.route\x12\x02*\x00\x12\xbe\x02\n\x00\x12\xb9\x02"
        b"\n\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x12\x08"
        b"\x00\x00\x00\x00\x00\x00\x00\x010\x029\x18\x01\x1e\xe0C\xbe\xed\x18A\x18\x01\x1e"
        b"\xe0C\xbe\xed\x18J\x07\n\x01k\x12\x022\x00Z]\t\x18\x01\x1e\xe0C\xbe\xed\x18\x12"
        b"\x04\xf0\x90\x80\x80\x1a\x19\n\x0cservice.name\x12\t!\x00\x00\x00\x00\x00\x00"
        b"\x00\x00\x1a\x1f\n\nhttp.route\x12\x11*\x0f\n\r*\x0b\n\t!\x00\x00\x00\x00\x00"
        b"\x00\x00\x00\x1a\x10\n\nhttp.route\x12\x02*\x00Z\x9a\x01\t\x18\x01\x1e\xe0C\xbe"
        b"\xed\x18\x12\x0800\xc2\x80\xc2\x80\xc2\x80\x1a6\n\nhttp.route\x12(*&\n\x02*\x00"
        b"\n\x02*\x00\n\x1c*\x1a\n\x0b\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\n\x0b"
        b"\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x1a\n\n\x04kale\x12\x02*\x00\x1a"
        b"\n\n\x04kale\x12\x02\n\x00\x1a5\x123*1\n\x00\n%*#\n\t\n\x070\xc2\x80\xf0\x90\x80"
        b"\x80\n\x16\n\x14000000\xc2\x80\xc2\x80\xc2\x80\xc2\x80\xc2\x80\xf0\x90\x80\x80"
        b"\n\x06*\x04\n\x02\n\x00z\x02\x18\x01\x12\x80\x01\n\x03\x12\x011\x123\n\x10\x00"
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x12\x08\x00\x00\x00"
        b"\x00\x00\x00\x00\x01*\x1609\x18\x01\x1e\xe0C\xbe\xed\x18A\x18\x01\x1e\xe0C\xbe"
        b"\xed\x18z\x00\x12D\n\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x00\x01\x12\x08\x00\x00\x00\x00\x00\x00\x00\x019\x18\x01\x1e\xe0C\xbe\xed\x18A"
        b"\x18\x01\x1e\xe0C\xbe\xed\x18J\x12\n\x0cservice.name\x12\x02*\x00z\x00"
    )
    assert isinstance(assert_same(body), str)


def test_selection() -> None:
    assert otlp.proto_decoder() == ("native", otlp.decode_proto_native)
    assert otlp.proto_decoder("python") == ("python", otlp.decode_proto)
    with pytest.raises(ValueError, match="unknown decoder"):
        otlp.proto_decoder("fortran")


@given(requests)
@DIFFERENTIAL
def test_generated_requests(request: ExportTraceServiceRequest) -> None:
    assert_same(request.SerializeToString())


limits = st.builds(
    DecodeLimits,
    max_spans=st.integers(1, 6),
    max_attributes=st.integers(0, 4),
    max_value_length=st.integers(0, 12),
    max_events=st.integers(0, 3),
    max_links=st.integers(0, 3),
)


@given(requests, limits)
@DIFFERENTIAL
def test_generated_requests_under_limits(
    request: ExportTraceServiceRequest, limits: DecodeLimits
) -> None:
    assert_same(request.SerializeToString(), limits)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid request's bytes with a few bytes changed, inserted or removed."""
    body = bytearray(draw(requests).SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            body[at] = draw(st.integers(0, 255))
        elif action == "insert":
            body.insert(at, draw(st.integers(0, 255)))
        else:
            del body[at]
    return bytes(body)


@given(mutated() | st.binary(max_size=300))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_and_random_bytes(body: bytes) -> None:
    assert_same(body)


def any_request(value: AnyValue, key: str = "k") -> bytes:
    return request_of(good_span(1, attributes=[kv(key, value)])).SerializeToString()


@pytest.mark.parametrize(
    "number",
    [0.0, -0.0, 0.1, 1.5, 1e15, 1e16, 1.5e16, 1e-4, 1e-5, 2.5e-5, 1.5e-7, 1e22, 1e300, 5e-324,
     123456789.125, float("nan"), float("inf"), float("-inf"), 1 / 3, -2.5e-300],
)  # fmt: skip
def test_doubles_as_python_and_orjson_write_them(number: float) -> None:
    assert_same(any_request(AnyValue(double_value=number)))
    array = AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=number)]))
    assert_same(any_request(array))


def test_nested_values_and_escapes() -> None:
    text = 'q"\\\n\t\x01\x7fü€😀'
    kvlist = KeyValueList(
        values=[
            kv("a", AnyValue(string_value=text)),
            kv("b", AnyValue(bytes_value=b"\x00\xff")),
            kv("a", AnyValue(bool_value=True)),  # a repeated key: first place, last value
            kv("c", AnyValue()),
            kv(text, AnyValue(int_value=-(2**63))),
        ]
    )
    nested = AnyValue(
        array_value=ArrayValue(values=[AnyValue(kvlist_value=kvlist), AnyValue(), AnyValue()])
    )
    assert_same(any_request(nested))
    assert_same(any_request(AnyValue(kvlist_value=kvlist), key=text))


@pytest.mark.parametrize("length", [0, 1, 3, 7, 8])
def test_cutting_counts_characters(length: int) -> None:
    values = [
        AnyValue(string_value="ü€😀abcdefgh"),
        AnyValue(bytes_value=b"\x00\x01\x02\x03\x04\x05"),
        AnyValue(int_value=123456789012),
        AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="ü€😀")])),
    ]
    span = good_span(1, attributes=[kv(f"k{i}", v) for i, v in enumerate(values)])
    body = request_of(span, resource=[kv("service.name", values[0])]).SerializeToString()
    assert_same(body, DecodeLimits(max_value_length=length))


def test_many_spans_resources_and_scopes() -> None:
    rng = random.Random(7)
    request = ExportTraceServiceRequest()
    now = time.time_ns()
    for r in range(3):
        resource_spans = ResourceSpans()
        resource_spans.resource.attributes.append(
            kv("service.name", AnyValue(string_value=f"s{r}"))
        )
        for s in range(2):
            scope_spans = ScopeSpans()
            scope_spans.scope.name = f"scope{s}"
            for n in range(50):
                span = Span(
                    trace_id=rng.randbytes(16),
                    span_id=rng.randbytes(8),
                    name=f"op{n % 7}",
                    start_time_unix_nano=now - 10**9,
                    end_time_unix_nano=now - rng.randrange(10**9 + 1),
                )
                span.attributes.extend([kv("n", AnyValue(int_value=n))] * (n % 3))
                scope_spans.spans.append(span)
            resource_spans.scope_spans.append(scope_spans)
        request.resource_spans.append(resource_spans)
    result = assert_same(request.SerializeToString())
    assert isinstance(result, DecodeResult)
    assert result.batch.num_rows == 300


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (number < 16)."""
    assert number < 16
    length, size = b"", len(payload)
    while size >= 0x80:
        length, size = length + bytes([size & 0x7F | 0x80]), size >> 7
    return bytes([number << 3 | 2]) + length + bytes([size]) + payload


# A KeyValue whose key is not UTF-8: valid for the request walk, which leaves attributes raw,
# and malformed once the attribute is decoded.
BAD_ATTRIBUTE = field(1, b"\xff")


def test_a_resource_and_a_scope_after_their_spans_and_merged() -> None:
    # The one walk writes spans as it meets them and their resource's and scope's values when
    # those messages end: wire order must not matter. Serialized messages concatenated merge,
    # so the resource and scope fields below come after the spans, twice each.
    spans = ScopeSpans(spans=[good_span(1), good_span(2)]).SerializeToString()
    scope = ScopeSpans(scope=InstrumentationScope(name="late", version="2")).SerializeToString()
    scope += ScopeSpans(scope=InstrumentationScope(version="3")).SerializeToString()
    resource = ResourceSpans(scope_spans=[ScopeSpans(spans=[good_span(3)])]).SerializeToString()
    resource += field(2, spans + scope)
    for attributes in (
        [kv("service.name", AnyValue(string_value="first"))],
        [kv("service.name", AnyValue(string_value="second")), kv("k", AnyValue(int_value=1))],
    ):
        resource += ResourceSpans(resource=ProtoResource(attributes=attributes)).SerializeToString()
    body = field(1, resource) + field(1, resource)
    result = assert_same(body)
    assert isinstance(result, DecodeResult)
    assert result.batch.num_rows == 6
    assert assert_same(body, DecodeLimits(max_attributes=1, max_value_length=3)) is not None


def test_a_bad_attribute_fails_the_request_only_where_the_python_decoder_reads_it() -> None:
    bad_resource = field(1, field(1, field(1, BAD_ATTRIBUTE)))  # ResourceSpans.resource
    # A resource without spans: the request holds no spans, so nothing is decoded.
    assert_same(bad_resource)
    # With spans elsewhere in the request every resource is decoded: the request fails.
    with_spans = bad_resource + request_of(good_span(1)).SerializeToString()
    assert isinstance(assert_same(with_spans), str)
    # Beyond max_attributes, in an event beyond max_events, in a link dropped for its ids:
    # never decoded, never a failure.
    limits = DecodeLimits(max_attributes=1, max_events=1)
    span = good_span(1).SerializeToString() + field(9, field(1, b"ok")) + field(9, BAD_ATTRIBUTE)
    span += field(11, field(2, b"kept")) + field(11, field(3, BAD_ATTRIBUTE))
    span += field(13, field(1, b"\x00" * 16) + field(4, BAD_ATTRIBUTE))
    body = field(1, field(2, field(2, span)))
    result = assert_same(body, limits)
    assert isinstance(result, DecodeResult)
    assert result.batch.num_rows == 1
    # The same attributes where they are decoded fail it.
    assert isinstance(assert_same(body), str)


def test_statuses_shared_changed_and_malformed() -> None:
    ok = Status(code=Status.STATUS_CODE_OK, message="fine")
    error = Status(code=Status.STATUS_CODE_ERROR, message="boom")
    spans = [good_span(n, status=s) for n, s in enumerate([ok, ok, error, ok, Status()], 1)]
    assert_same(request_of(*spans).SerializeToString())
    bad = field(15, field(2, b"\xff"))  # a status message that is not UTF-8
    body = field(1, field(2, field(2, good_span(1).SerializeToString() + bad)))
    assert isinstance(assert_same(body), str)


def test_rejected_spans_among_kept_ones() -> None:
    spans = [
        good_span(1),
        good_span(2, trace_id=b"\x00" * 16),
        good_span(3),
        good_span(4, span_id=b"\x01"),
        good_span(5, start_time_unix_nano=0),
        good_span(6, trace_id=b"\x00" * 16),
    ]
    result = assert_same(request_of(*spans).SerializeToString())
    assert isinstance(result, DecodeResult)
    assert (result.batch.num_rows, result.rejected) == (2, 4)


@pytest.mark.parametrize(
    "key_value",
    [
        field(1, b"k") + field(2, field(1, b"v")),  # the usual shape, read by the fast path
        field(2, field(1, b"v")) + field(1, b"k"),  # value before key
        field(1, b"k") + field(2, field(1, b"v") + b"\x18\x07"),  # a string, then an int: last wins
        field(1, b"k") + field(2, b"\x10\x80\x01"),  # bool from a two-byte varint
        field(1, b"k") + field(2, b"\x18" + b"\xff" * 9 + b"\x01"),  # int -1
        field(1, b"k") + field(2, b"\x18" + b"\xff" * 10 + b"\x01"),  # an 11-byte varint
        field(1, b"k") + field(2, b"\x21" + b"\x00" * 7),  # a double cut short
        field(1, b"k") + field(2, b"\x21" + b"\x00" * 9),  # a double and a stray byte
        field(1, b"k") + b"\x12\x83\x00" + field(1, b"v"),  # a length in three bytes
        field(1, b"k") + field(2, field(1, b"\xc3\xbc" * 70)),  # a string longer than 127
        field(1, b"k") + field(2, field(1, b"\xc3")),  # a value that is not UTF-8
        field(1, b"\xc3") + field(2, field(1, b"v")),  # a key that is not UTF-8
        field(1, b"k") + field(2, b""),  # an empty value
        field(1, b"k"),  # no value
    ],
)
def test_key_value_shapes(key_value: bytes) -> None:
    span = good_span(1).SerializeToString() + field(9, key_value)
    assert_same(field(1, field(2, field(2, span))))
