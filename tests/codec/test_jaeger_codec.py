"""codec.jaeger: the OpenTelemetry -> Jaeger UI JSON mapping, edge by edge."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.codec.jaeger import to_jaeger_trace, to_jaeger_traces, typed_tag
from breadcrumbs.model import (
    AttributeValue,
    Event,
    Span,
    SpanKind,
    StatusCode,
    batch_from_spans,
    encode_value,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"


def one(**kw: Any) -> dict[str, Any]:
    span = Span(
        trace_id=TRACE,
        span_id=kw.pop("span_id", "b7ad6b7169203331"),
        name="op",
        service=kw.pop("service", "svc"),
        start_ns=1_000_000_123_456,
        duration_ns=2_500_999,
        **kw,
    )
    trace = to_jaeger_trace(batch_from_spans([span]))
    result: dict[str, Any] = trace["spans"][0]
    return result


def keys(span: dict[str, Any]) -> list[str]:
    return [tag["key"] for tag in span["tags"]]


def test_times_are_truncated_microseconds() -> None:
    span = one()
    assert (span["startTime"], span["duration"]) == (1_000_000_123, 2_500)


def test_unspecified_kind_and_unset_status_add_no_tags() -> None:
    assert keys(one(kind=SpanKind.UNSPECIFIED)) == []


def test_kinds() -> None:
    for kind, label in [
        (SpanKind.SERVER, "server"),
        (SpanKind.CLIENT, "client"),
        (SpanKind.PRODUCER, "producer"),
        (SpanKind.CONSUMER, "consumer"),
        (SpanKind.INTERNAL, "internal"),
    ]:
        assert {"key": "span.kind", "type": "string", "value": label} in one(kind=kind)["tags"]


def test_existing_attribute_wins_over_synthesized_tag() -> None:
    span = one(status=StatusCode.ERROR, attributes={"error": "timeout"})
    errors = [tag for tag in span["tags"] if tag["key"] == "error"]
    assert errors == [{"key": "error", "type": "string", "value": "timeout"}]


def test_trace_state_and_event_without_name() -> None:
    span = one(
        kind=SpanKind.UNSPECIFIED,
        trace_state="congo=t61rcWkgMzE",
        events=(Event(5_000, "", {"event": "custom", "n": 1}),),
    )
    assert span["tags"] == [
        {"key": "w3c.tracestate", "type": "string", "value": "congo=t61rcWkgMzE"}
    ]
    assert span["logs"] == [
        {
            "timestamp": 5,
            "fields": [
                {"key": "event", "type": "string", "value": "custom"},
                {"key": "n", "type": "int64", "value": 1},
            ],
        }
    ]


def test_non_finite_floats_stay_valid_json() -> None:
    span = one(attributes={"x": float("nan"), "y": float("inf")})
    assert {"key": "x", "type": "string", "value": "nan"} in span["tags"]
    orjson.dumps(span)


def test_processes_split_by_resource() -> None:
    spans = [
        Span(TRACE, f"{i:016x}", "op", "svc", 10, 1, resource={"host.name": host})
        for i, host in enumerate(["a", "b", "a"], start=1)
    ]
    trace = to_jaeger_trace(batch_from_spans(spans))
    assert [span["processID"] for span in trace["spans"]] == ["p1", "p2", "p1"]
    assert trace["processes"]["p2"] == {
        "serviceName": "svc",
        "tags": [{"key": "host.name", "type": "string", "value": "b"}],
    }


def test_several_traces_render_as_each_alone() -> None:
    # Process ids restart per trace; resources shared across traces keep their own numbering.
    def trace(trace_id: str, hosts: list[str]) -> Any:
        return batch_from_spans(
            [
                Span(trace_id, f"{i:016x}", "op", "svc", 10, 1, resource={"host.name": host})
                for i, host in enumerate(hosts, start=1)
            ]
        )

    batches = [trace(TRACE, ["a", "b", "a"]), trace("1" * 32, ["b", "c"]), trace("2" * 32, [])]
    warnings = [(("w",), (), ()), None, ()]
    together = to_jaeger_traces(list(zip(batches, warnings, strict=True)))
    alone = [to_jaeger_trace(b, w) for b, w in zip(batches, warnings, strict=True)]
    assert orjson.dumps(together) == orjson.dumps(alone)
    assert [s["processID"] for s in together[1]["spans"]] == ["p1", "p2"]
    assert to_jaeger_traces([]) == []


def test_empty_batch() -> None:
    assert to_jaeger_trace(batch_from_spans([])) == {
        "traceID": "",
        "spans": [],
        "processes": {},
        "warnings": None,
    }


values = st.recursive(
    st.text(max_size=10)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=200)
@given(values)
def test_every_value_becomes_a_typed_json_tag(value: AttributeValue) -> None:
    text, code = encode_value(value)
    tag = typed_tag("k", text, code)
    assert tag["type"] in {"string", "bool", "int64", "float64", "binary"}
    assert orjson.loads(orjson.dumps(tag)) == tag
