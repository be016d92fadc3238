"""OTLP codec: real SDK and proto payloads into columns, JSON per the spec, limits, rejection,
round trips and garbage."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.codec.differential import both

from breadcrumbs.codec import otlp
from breadcrumbs.codec.base import (
    DROPPED_ATTRIBUTES_KEY,
    DROPPED_EVENTS_KEY,
    DROPPED_LINKS_KEY,
    TRUNCATED_KEY,
    DecodeLimits,
)
from breadcrumbs.codec.otlp import (
    DEFAULT_LIMITS,
    decode_proto,
    decode_request,
    encode_proto,
)
from breadcrumbs.errors import BadInput
from breadcrumbs.model import SPAN_SCHEMA, UNKNOWN_SERVICE, decode_attributes

# Every OTLP/JSON test here decodes with both decoders and requires the same outcome.
decode_json = both(otlp.decode_json, otlp.decode_json_native, otlp.json_native.AVAILABLE)

TESTDATA = Path(__file__).parent / "otlp_testdata"
NOW = time.time_ns()
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=sorted(otlp.DECODERS), autouse=True)
def protobuf_decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with each protobuf decoder as ``decode_proto`` (the native one
    where it was built; ``test_otlp_native`` holds the two to identical output)."""
    name: str = request.param
    if name == "native" and not otlp.NATIVE_AVAILABLE:
        pytest.skip("the native decoder is not built (no Rust toolchain at install)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(globals(), "decode_proto", otlp.DECODERS[name])
        yield name


def kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def request_of(*spans: Span, resource: list[KeyValue] | None = None) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=ProtoResource(attributes=resource or []),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="s"), spans=spans)],
            )
        ]
    )


def good_span(n: int = 1, **fields: Any) -> Span:
    values: dict[str, Any] = {
        "trace_id": bytes([n]) * 16,
        "span_id": bytes([n]) * 8,
        "name": f"span {n}",
        "start_time_unix_nano": NOW - 10**9,
        "end_time_unix_nano": NOW - 10**9 + 5000,
    }
    values.update(fields)
    return Span(**values)


def rows(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    result = decode_proto(body, limits)
    assert result.batch.schema == SPAN_SCHEMA
    rows: list[dict[str, Any]] = result.batch.to_pylist()
    return rows


def attributes(row: dict[str, Any], column: str = "SpanAttributes") -> dict[str, Any]:
    types = column.replace("Attributes", "AttributeTypes")
    return decode_attributes(row[column], row[types])


# --- the real OpenTelemetry SDK --------------------------------------------------------------


@pytest.fixture
def sdk_request() -> Iterator[ExportTraceServiceRequest]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "kale-shop", "deployment.environment": "test"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("kale.tests", "0.9.1")
    with tracer.start_as_current_span("other") as other:
        pass
    with tracer.start_as_current_span(
        "GET /smoothies",
        kind=trace.SpanKind.SERVER,
        attributes={
            "http.response.status_code": 500,
            "http.route": "/smoothies",
            "app.price": 4.5,
            "app.cached": False,
            "app.tags": ["kale", "mango"],
            "app.sizes": [1, 2],
        },
        links=[trace.Link(other.get_span_context(), {"link.kind": "follows"})],
    ) as parent:
        parent.add_event("blended", {"blend.seconds": 3})
        parent.set_status(trace.Status(trace.StatusCode.ERROR, "blender jammed"))
        with tracer.start_as_current_span("SELECT kale", kind=trace.SpanKind.CLIENT):
            pass
    yield encode_spans(exporter.get_finished_spans())
    provider.shutdown()


def test_sdk_spans_land_in_their_columns(sdk_request: ExportTraceServiceRequest) -> None:
    result = decode_proto(sdk_request.SerializeToString())
    assert (result.rejected, result.error) == (0, "")
    by_name = {row["SpanName"]: row for row in result.batch.to_pylist()}
    assert set(by_name) == {"other", "GET /smoothies", "SELECT kale"}
    server, client = by_name["GET /smoothies"], by_name["SELECT kale"]
    proto = {
        s.name: s for rs in sdk_request.resource_spans for ss in rs.scope_spans for s in ss.spans
    }
    for name, row in by_name.items():
        span = proto[name]
        assert row["TraceId"] == span.trace_id.hex()
        assert row["SpanId"] == span.span_id.hex()
        assert row["ParentSpanId"] == span.parent_span_id.hex()
        assert row["Timestamp"] == span.start_time_unix_nano
        assert row["Duration"] == span.end_time_unix_nano - span.start_time_unix_nano
        assert row["ServiceName"] == "kale-shop"
        assert (row["ScopeName"], row["ScopeVersion"]) == ("kale.tests", "0.9.1")
        resource = attributes(row, "ResourceAttributes")
        assert resource["deployment.environment"] == "test"
        assert resource["telemetry.sdk.language"] == "python"
    assert client["ParentSpanId"] == server["SpanId"]
    assert by_name["other"]["ParentSpanId"] == ""
    assert (server["SpanKind"], client["SpanKind"], by_name["other"]["SpanKind"]) == (2, 3, 1)
    assert (server["StatusCode"], server["StatusMessage"]) == (2, "blender jammed")
    assert client["StatusCode"] == 0
    assert attributes(server) == {
        "http.response.status_code": 500,
        "http.route": "/smoothies",
        "app.price": 4.5,
        "app.cached": False,
        "app.tags": ["kale", "mango"],
        "app.sizes": [1, 2],
    }
    assert server["SpanAttributeTypes"] == "isdbaa"
    (event,) = server["Events"]
    assert event["Name"] == "blended"
    assert event["Timestamp"] == proto["GET /smoothies"].events[0].time_unix_nano
    assert decode_attributes(event["Attributes"], event["AttributeTypes"]) == {"blend.seconds": 3}
    (link,) = server["Links"]
    assert (link["TraceId"], link["SpanId"]) == (
        by_name["other"]["TraceId"],
        by_name["other"]["SpanId"],
    )
    assert decode_attributes(link["Attributes"], link["AttributeTypes"]) == {"link.kind": "follows"}


def test_decode_request_matches_decode_proto(sdk_request: ExportTraceServiceRequest) -> None:
    from_bytes = decode_proto(sdk_request.SerializeToString()).batch
    assert decode_request(sdk_request).batch.equals(from_bytes)


# --- values -----------------------------------------------------------------------------


def test_every_value_type_keeps_its_type() -> None:
    values = {
        "s": AnyValue(string_value="kale"),
        "i": AnyValue(int_value=-(2**63)),
        "d": AnyValue(double_value=0.1),
        "nan": AnyValue(double_value=math.nan),
        "b": AnyValue(bool_value=True),
        "y": AnyValue(bytes_value=b"\x00\xff"),
        "a": AnyValue(
            array_value=ArrayValue(
                values=[AnyValue(int_value=1), AnyValue(bytes_value=b"k"), AnyValue()]
            )
        ),
        "m": AnyValue(
            kvlist_value=KeyValueList(
                values=[kv("x", AnyValue(double_value=1.5)), kv("y", AnyValue(bool_value=False))]
            )
        ),
        "empty": AnyValue(),
    }
    span = good_span(attributes=[kv(k, v) for k, v in values.items()])
    (row,) = rows(request_of(span).SerializeToString())
    assert row["SpanAttributes"] == [
        ("s", "kale"),
        ("i", "-9223372036854775808"),
        ("d", "0.1"),
        ("nan", "nan"),
        ("b", "true"),
        ("y", "AP8="),
        ("a", '[1,"aw==",null]'),
        ("m", '{"x":1.5,"y":false}'),
        ("empty", ""),
    ]
    assert row["SpanAttributeTypes"] == "siddbyams"


def test_duplicate_keys_last_one_wins() -> None:
    span = good_span(
        attributes=[
            kv("k", AnyValue(string_value="first")),
            kv("other", AnyValue(int_value=1)),
            kv("k", AnyValue(int_value=2)),
        ]
    )
    (row,) = rows(request_of(span).SerializeToString())
    assert attributes(row) == {"k": 2, "other": 1}
    assert len(row["SpanAttributes"]) == len(row["SpanAttributeTypes"]) == 2


def test_service_name_defaults_and_unknown_enums_read_as_zero() -> None:
    span = good_span(kind=9, status=Status(code=7, message="odd"))  # type: ignore[arg-type]
    (row,) = rows(
        request_of(span, resource=[kv("host", AnyValue(string_value="h"))]).SerializeToString()
    )
    assert row["ServiceName"] == UNKNOWN_SERVICE
    assert (row["SpanKind"], row["StatusCode"], row["StatusMessage"]) == (0, 0, "odd")


def test_resources_and_scopes_repeat_for_their_spans() -> None:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=ProtoResource(
                    attributes=[kv("service.name", AnyValue(string_value=name))]
                ),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name=f"{name}-{s}", version=str(s)),
                        spans=[good_span(n) for n in range(1 + s, 3 + s)],
                    )
                    for s in range(2)
                ],
            )
            for name in ("a", "b")
        ]
    )
    got = [
        (r["ServiceName"], r["ScopeName"], r["ScopeVersion"])
        for r in rows(request.SerializeToString())
    ]
    expected = [(name, f"{name}-{s}", str(s)) for name in "ab" for s in range(2) for _ in range(2)]
    assert got == expected


# --- rejection (OTLP partial success) ----------------------------------------------------


BAD_SPANS: dict[str, dict[str, Any]] = {
    "invalid trace id": {"trace_id": b"\x01" * 8},
    "trace id": {"trace_id": bytes(16)},
    "invalid span id": {"span_id": b"\x01" * 16},
    "span id ": {"span_id": bytes(8)},
    "invalid parent span id": {"parent_span_id": bytes(8)},
    "parent span id": {"parent_span_id": b"\x01\x02"},
    "start time is 0": {"start_time_unix_nano": 0},
    "before the year 2000": {"start_time_unix_nano": 900_000_000 * 10**9},
    "start time is more than a day in the future": {
        "start_time_unix_nano": NOW + 2 * 86_400 * 10**9,
        "end_time_unix_nano": NOW + 2 * 86_400 * 10**9,
    },
    "end time is before start time": {"end_time_unix_nano": NOW - 2 * 10**9},
    "end time is more than a day in the future": {"end_time_unix_nano": 2**64 - 1},
}


@pytest.mark.parametrize("reason", list(BAD_SPANS))
def test_a_bad_span_is_rejected_with_a_reason(reason: str) -> None:
    request = request_of(good_span(1), good_span(2, **BAD_SPANS[reason]), good_span(3))
    result = decode_proto(request.SerializeToString())
    assert result.rejected == 1
    assert reason.strip() in result.error
    assert result.error.startswith("rejected 1 of 3 spans")
    assert result.batch.column("SpanName").to_pylist() == ["span 1", "span 3"]


@given(st.lists(st.sampled_from([None, *BAD_SPANS]), max_size=12))
@HYPOTHESIS
def test_partial_success_counts(kinds: list[str | None]) -> None:
    spans = [good_span(n + 1, **(BAD_SPANS[k] if k else {})) for n, k in enumerate(kinds)]
    result = decode_proto(request_of(*spans).SerializeToString())
    bad = sum(k is not None for k in kinds)
    assert result.rejected == bad
    assert result.batch.num_rows == len(kinds) - bad
    assert (result.error == "") == (bad == 0)
    assert result.batch.column("SpanName").to_pylist() == [
        f"span {n + 1}" for n, k in enumerate(kinds) if k is None
    ]


# --- limits ------------------------------------------------------------------------------


def test_limits_drop_and_mark() -> None:
    limits = DecodeLimits(max_attributes=2, max_value_length=4, max_events=1, max_links=1)
    link = Span.Link(trace_id=b"\x07" * 16, span_id=b"\x07" * 8)
    span = good_span(
        attributes=[kv(f"k{i}", AnyValue(string_value="kale smoothie")) for i in range(5)],
        events=[Span.Event(time_unix_nano=NOW, name=f"e{i}") for i in range(3)],
        links=[link, link, Span.Link(trace_id=bytes(16), span_id=b"\x01" * 8)],
    )
    resource = [kv(f"r{i}", AnyValue(int_value=i)) for i in range(3)]
    (row,) = rows(request_of(span, resource=resource).SerializeToString(), limits)
    assert attributes(row) == {
        "k0": "kale",
        "k1": "kale",
        DROPPED_ATTRIBUTES_KEY: 3,
        DROPPED_EVENTS_KEY: 2,
        DROPPED_LINKS_KEY: 2,
        TRUNCATED_KEY: 2,
    }
    assert [e["Name"] for e in row["Events"]] == ["e0"]
    assert len(row["Links"]) == 1
    assert attributes(row, "ResourceAttributes") == {"r0": 0, "r1": 1, DROPPED_ATTRIBUTES_KEY: 1}


def test_truncated_arrays_become_strings() -> None:
    value = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="x" * 10)] * 3))
    span = good_span(attributes=[kv("a", value), kv("b", AnyValue(bytes_value=b"z" * 30))])
    (row,) = rows(request_of(span).SerializeToString(), DecodeLimits(max_value_length=8))
    assert row["SpanAttributes"][:2] == [("a", '["xxxxxx'), ("b", "enp6enp6")]
    assert row["SpanAttributeTypes"] == "ssi"
    assert attributes(row)[TRUNCATED_KEY] == 2


def test_too_many_spans_is_bad_input() -> None:
    body = request_of(*[good_span(n) for n in range(1, 5)]).SerializeToString()
    with pytest.raises(BadInput, match="too many spans"):
        decode_proto(body, DecodeLimits(max_spans=3))
    assert decode_proto(body, DecodeLimits(max_spans=4)).batch.num_rows == 4


# --- JSON ------------------------------------------------------------------------------------


def test_json_example_from_the_spec_shape() -> None:
    result = decode_json((TESTDATA / "trace.json").read_bytes())
    assert (result.rejected, result.error) == (0, "")
    (row,) = result.batch.to_pylist()
    assert row["TraceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert (row["SpanId"], row["ParentSpanId"]) == ("b7ad6b7169203331", "00f067aa0ba902b7")
    assert (row["Timestamp"], row["Duration"]) == (1_700_000_000_000_000_000, 250_000_000)
    assert (row["SpanKind"], row["TraceState"]) == (2, "kale=1")
    assert (row["StatusCode"], row["StatusMessage"]) == (2, "lid not closed")
    assert (row["ServiceName"], row["ScopeName"], row["ScopeVersion"]) == (
        "smoothie-blender",
        "kale.blender",
        "2.1.0",
    )
    assert attributes(row, "ResourceAttributes") == {
        "service.name": "smoothie-blender",
        "host.cores": 8,
    }
    assert attributes(row) == {
        "blender.speed": 3,
        "blender.ratio": 0.75,
        "blender.on": True,
        "blender.serial": b"kale",
        "blender.fruits": ["kale", 2],
        "blender.settings": {"ice": False},
        "blender.note": "extra spinach",
    }
    (event,) = row["Events"]
    assert (event["Name"], event["Timestamp"]) == ("lid closed", 1_700_000_000_100_000_000)
    assert (event["Attributes"], event["AttributeTypes"]) == ([("lid.force", "nan")], "d")
    (link,) = row["Links"]
    assert (link["TraceId"], link["SpanId"], link["TraceState"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "other=2",
    )


def snake_case(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in k): snake_case(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value


def test_json_accepts_snake_case_and_enum_names() -> None:
    document = json.loads((TESTDATA / "trace.json").read_text())
    expected = decode_json(orjson.dumps(document)).batch
    document = snake_case(document)
    span = document["resource_spans"][0]["scope_spans"][0]["spans"][0]
    span["kind"], span["status"]["code"] = "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"
    assert decode_json(orjson.dumps(document)).batch.equals(expected)


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """protobuf's JSON mapping with ids turned to hex, as OTLP/JSON has them."""
    document = json_format.MessageToDict(request)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for item in [span, *span.get("links", [])]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = base64.b64decode(item[key]).hex()
    return orjson.dumps(document)


def test_json_bad_id_rejects_only_its_span() -> None:
    request = request_of(good_span(1), good_span(2))
    document = orjson.loads(otlp_json(request))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not hex"
    result = decode_json(orjson.dumps(document))
    assert (result.rejected, result.batch.column("SpanName").to_pylist()) == (1, ["span 2"])
    assert "invalid trace id" in result.error


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"{",
        b'{"resourceSpans": 3}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}',
    ],
)
def test_malformed_json_is_bad_input(body: bytes) -> None:
    if body == b'{"resourceSpans": 3}':
        with pytest.raises(BadInput, match="resourceSpans"):
            decode_json(body)
        return
    with pytest.raises(BadInput):
        decode_json(body)


def test_malformed_protobuf_is_bad_input() -> None:
    with pytest.raises(BadInput, match="malformed OTLP protobuf"):
        decode_proto(b"\x0a\xff\xff\xff")


# --- properties ----------------------------------------------------------------------------

ids16 = st.binary(min_size=16, max_size=16).filter(any)
ids8 = st.binary(min_size=8, max_size=8).filter(any)
scalar_values = st.one_of(
    st.text(max_size=12).map(lambda v: AnyValue(string_value=v)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
    st.floats().map(lambda v: AnyValue(double_value=v)),
    st.booleans().map(lambda v: AnyValue(bool_value=v)),
    st.binary(max_size=8).map(lambda v: AnyValue(bytes_value=v)),
    st.just(AnyValue()),
)
keys = st.sampled_from(["service.name", "http.route", "k", "kale", "ü", ""])
any_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs))),
        st.lists(st.tuples(keys, inner), max_size=3).map(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[kv(k, v) for k, v in kvs]))
        ),
    ),
    max_leaves=4,
)
key_values = st.lists(st.builds(kv, keys, any_values), max_size=4)
times = st.integers(NOW - 10**12, NOW)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start = draw(times)
    return Span(
        trace_id=draw(ids16),
        span_id=draw(ids8),
        parent_span_id=draw(st.just(b"") | ids8),
        trace_state=draw(st.sampled_from(["", "kale=1"])),
        name=draw(st.text(max_size=8)),
        kind=draw(st.integers(0, 5)),  # type: ignore[arg-type]
        start_time_unix_nano=start,
        end_time_unix_nano=start + draw(st.integers(0, 10**10)),
        attributes=draw(key_values),
        events=draw(
            st.lists(
                st.builds(
                    Span.Event,
                    time_unix_nano=times,
                    name=st.text(max_size=5),
                    attributes=key_values,
                ),
                max_size=2,
            )
        ),
        links=draw(
            st.lists(
                st.builds(
                    Span.Link,
                    trace_id=ids16,
                    span_id=ids8,
                    trace_state=st.sampled_from(["", "x=y"]),
                    attributes=key_values,
                ),
                max_size=2,
            )
        ),
        status=Status(code=draw(st.integers(0, 2)), message=draw(st.text(max_size=5))),  # type: ignore[arg-type]
    )


requests = st.builds(
    lambda resources: ExportTraceServiceRequest(resource_spans=resources),
    st.lists(
        st.builds(
            ResourceSpans,
            resource=st.builds(ProtoResource, attributes=key_values),
            scope_spans=st.lists(
                st.builds(
                    ScopeSpans,
                    scope=st.builds(
                        InstrumentationScope,
                        name=st.sampled_from(["", "a"]),
                        version=st.sampled_from(["", "1"]),
                    ),
                    spans=st.lists(spans(), max_size=3),
                ),
                max_size=2,
            ),
        ),
        max_size=2,
    ),
)


def sorted_rows(batch: pa.Table) -> list[str]:
    return sorted(repr(row) for row in batch.to_pylist())


@given(requests)
@HYPOTHESIS
def test_encode_decode_round_trip(request: ExportTraceServiceRequest) -> None:
    first = decode_proto(request.SerializeToString())
    assert first.rejected == 0, first.error
    again = decode_proto(encode_proto(first.batch))
    assert again.rejected == 0
    assert sorted_rows(again.batch) == sorted_rows(first.batch)


@given(requests)
@HYPOTHESIS
def test_json_and_protobuf_decode_alike(request: ExportTraceServiceRequest) -> None:
    from_proto = decode_proto(request.SerializeToString()).batch
    assert decode_json(otlp_json(request)).batch.equals(from_proto)


@given(
    st.binary(max_size=200) | requests.map(lambda r: r.SerializeToString()[:-3] + b"\x01\x02\x03")
)
@HYPOTHESIS
def test_random_bytes_raise_only_bad_input(body: bytes) -> None:
    try:
        result = decode_proto(body)
    except BadInput:
        return
    assert result.batch.schema == SPAN_SCHEMA


otlp_words = st.sampled_from(
    [
        "resourceSpans", "scopeSpans", "spans", "resource", "scope", "attributes", "key", "value",
        "stringValue", "intValue", "doubleValue", "boolValue", "bytesValue", "arrayValue",
        "kvlistValue", "values", "traceId", "spanId", "parentSpanId", "startTimeUnixNano",
        "endTimeUnixNano", "events", "links", "status", "code", "kind", "name", "timeUnixNano",
    ]
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(otlp_words | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
@HYPOTHESIS
def test_random_json_raises_only_bad_input(document: Any) -> None:
    try:
        result = decode_json(json.dumps(document).encode())  # stdlib: ints beyond 64 bits too
    except BadInput:
        return
    assert result.batch.schema == SPAN_SCHEMA


@given(st.data())
@HYPOTHESIS
def test_mutated_json_raises_only_bad_input(data: st.DataObject) -> None:
    """Replaces one random node of a valid document, so the walk gets deep before failing."""
    document = json.loads((TESTDATA / "trace.json").read_text())
    node: Any = document
    while True:
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        child = node[key]
        if not isinstance(child, dict | list) or not child or data.draw(st.booleans()):
            node[key] = data.draw(json_values)
            break
        node = child
    try:
        result = decode_json(json.dumps(document).encode())
    except BadInput:
        return
    assert result.batch.schema == SPAN_SCHEMA


unique_key_values = st.lists(
    st.builds(kv, st.text(min_size=1, max_size=6), scalar_values),
    max_size=6,
    unique_by=lambda k: k.key,
)


@given(
    st.lists(
        st.builds(
            lambda span, attributes, events, links: Span(
                trace_id=span.trace_id,
                span_id=span.span_id,
                name=span.name,
                start_time_unix_nano=span.start_time_unix_nano,
                end_time_unix_nano=span.end_time_unix_nano,
                attributes=attributes,
                events=[Span.Event(time_unix_nano=NOW, name=str(i)) for i in range(events)],
                links=[Span.Link(trace_id=b"\x05" * 16, span_id=b"\x05" * 8)] * links,
            ),
            spans(),
            unique_key_values,
            st.integers(0, 4),
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=4,
    ),
    st.builds(
        DecodeLimits,
        max_attributes=st.integers(0, 6),
        max_value_length=st.integers(0, 12),
        max_events=st.integers(0, 4),
        max_links=st.integers(0, 4),
    ),
)
@HYPOTHESIS
def test_limits_are_enforced_and_marked(spans_: list[Span], limits: DecodeLimits) -> None:
    body = request_of(*spans_).SerializeToString()
    full = decode_proto(body).batch.to_pylist()
    limited = decode_proto(body, limits).batch.to_pylist()
    markers = {TRUNCATED_KEY, DROPPED_ATTRIBUTES_KEY, DROPPED_EVENTS_KEY, DROPPED_LINKS_KEY}
    for span, whole, row in zip(spans_, full, limited, strict=True):
        got = dict(
            zip([k for k, _ in row["SpanAttributes"]], row["SpanAttributeTypes"], strict=True)
        )
        texts = dict(row["SpanAttributes"])
        expected = whole["SpanAttributes"][: limits.max_attributes]
        assert [k for k, _ in row["SpanAttributes"] if k not in markers] == [k for k, _ in expected]
        codes = dict(
            zip([k for k, _ in whole["SpanAttributes"]], whole["SpanAttributeTypes"], strict=True)
        )
        cut = 0
        for key, text in expected:
            if len(text) > limits.max_value_length and codes[key] in "sy":
                cut += 1
                assert (texts[key], got[key]) == (text[: limits.max_value_length], "s")
            else:
                assert texts[key] == text
        dropped = len(span.attributes) - limits.max_attributes
        assert texts.get(DROPPED_ATTRIBUTES_KEY) == (str(dropped) if dropped > 0 else None)
        assert texts.get(TRUNCATED_KEY) == (str(cut) if cut else None)
        assert len(row["Events"]) == min(len(span.events), limits.max_events)
        extra_events = len(span.events) - limits.max_events
        assert texts.get(DROPPED_EVENTS_KEY) == (str(extra_events) if extra_events > 0 else None)
        assert len(row["Links"]) == min(len(span.links), limits.max_links)
        extra_links = len(span.links) - limits.max_links
        assert texts.get(DROPPED_LINKS_KEY) == (str(extra_links) if extra_links > 0 else None)


def test_threads_share_the_attribute_cache_safely() -> None:
    """The gRPC receiver decodes on a thread pool; concurrent cache fills must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [
        request_of(
            *[
                good_span(
                    n,
                    attributes=[
                        kv(f"k{t}.{i}", AnyValue(string_value=f"{t}-{n}-{i}")) for i in range(5)
                    ],
                )
                for n in range(1, 60)
            ]
        ).SerializeToString()
        for t in range(8)
    ]
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda b: decode_proto(b).batch, bodies * 3))
    for t, batch in enumerate(batches):
        for n, row in enumerate(batch.to_pylist(), start=1):
            assert attributes(row) == {f"k{t % 8}.{i}": f"{t % 8}-{n}-{i}" for i in range(5)}


def test_large_requests_decode_like_single_spans() -> None:
    """Big attribute columns take the Arrow path, small ones plain Python: same result."""
    limits = DecodeLimits(max_value_length=6)
    spans_ = [
        good_span(
            n % 250 + 1,
            attributes=[
                kv("route", AnyValue(string_value="/kale" if n % 3 else "/smoothies/long")),
                kv("n", AnyValue(int_value=n)),
                kv("dup" if n % 7 == 0 else "x", AnyValue(bool_value=True)),
                kv("dup", AnyValue(double_value=n / 2)),
                kv("tags", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a")]))),
            ],
        )
        for n in range(300)
    ]
    big = decode_proto(request_of(*spans_).SerializeToString(), limits).batch
    singles = [decode_proto(request_of(s).SerializeToString(), limits).batch for s in spans_]
    assert big.equals(pa.concat_tables(singles))
    row = big.slice(7, 1).to_pylist()[0]
    assert attributes(row)["dup"] == 3.5
    assert row["SpanAttributeTypes"] == "sida"  # dup deduplicated, nothing cut
