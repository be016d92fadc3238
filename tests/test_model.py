"""The canonical span record: ids, typed attribute encoding, batch building."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    SPAN_SCHEMA,
    AttributeValue,
    Event,
    Link,
    Span,
    SpanKind,
    batch_from_spans,
    decode_attributes,
    decode_value,
    encode_value,
    normalize_span_id,
    normalize_trace_id,
)

scalars = (
    st.text()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.binary()
)


@given(scalars)
def test_scalar_values_round_trip_with_their_type(value: AttributeValue) -> None:
    text, code = encode_value(value)
    decoded = decode_value(text, code)
    assert type(decoded) is type(value)
    assert decoded == value


def test_nan_and_infinity_survive() -> None:
    assert math.isnan(float(decode_value(*encode_value(math.nan))))  # type: ignore[arg-type]
    assert decode_value(*encode_value(-math.inf)) == -math.inf


@given(st.lists(st.text() | st.integers(min_value=-(2**53), max_value=2**53) | st.booleans()))
def test_arrays_round_trip(values: list[AttributeValue]) -> None:
    text, code = encode_value(values)
    assert code == "a"
    assert decode_value(text, code) == values


def test_kvlist_is_a_json_object() -> None:
    text, code = encode_value({"a": 1, "b": [True, "x"]})
    assert (text, code) == ('{"a":1,"b":[true,"x"]}', "m")


def test_int_and_bool_are_distinct() -> None:
    assert encode_value(True) == ("true", "b")
    assert encode_value(1) == ("1", "i")
    assert encode_value(1.0) == ("1.0", "d")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("a3ce929d0e0e4736", "0000000000000000a3ce929d0e0e4736"),
    ],
)
def test_trace_ids_are_normalised(raw: str, expected: str) -> None:
    assert normalize_trace_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "0" * 32, "0" * 16, "xyz", "a" * 31, "a" * 33, " " + "a" * 31])
def test_bad_trace_ids_are_bad_input(raw: str) -> None:
    with pytest.raises(BadInput):
        normalize_trace_id(raw)


@given(st.text(max_size=40))
def test_span_id_parser_accepts_exactly_hex16(raw: str) -> None:
    is_hex16 = len(raw) == 16 and all(c in "0123456789abcdefABCDEF" for c in raw)
    if is_hex16 and raw.strip("0"):
        assert normalize_span_id(raw) == raw.lower()
    else:
        with pytest.raises(BadInput):
            normalize_span_id(raw)


def test_span_kind_parses_every_spelling() -> None:
    for text in ("server", "SERVER", "SPAN_KIND_SERVER", "2"):
        assert SpanKind.parse(text) is SpanKind.SERVER
    for text in ("sideways", "²", "7", ""):
        with pytest.raises(BadInput):
            SpanKind.parse(text)


@given(st.text(max_size=20))
def test_span_kind_parser_only_raises_bad_input(text: str) -> None:
    with contextlib.suppress(BadInput):
        assert isinstance(SpanKind.parse(text), SpanKind)


def test_batch_from_spans_keeps_types_in_order() -> None:
    span = Span(
        trace_id="1" * 32,
        span_id="2" * 16,
        name="GET /smoothies",
        service="gateway",
        start_ns=1_700_000_000_000_000_000,
        duration_ns=1_500_000,
        kind=SpanKind.SERVER,
        attributes={"http.response.status_code": 200, "http.route": "/smoothies", "ok": True},
        events=(Event(1_700_000_000_000_100_000, "exception", {"exception.type": "ValueError"}),),
        links=(Link("3" * 32, "4" * 16, attributes={"messaging.batch": 3}),),
    )
    batch = batch_from_spans([span])
    assert batch.schema == SPAN_SCHEMA
    row = batch.to_pylist()[0]
    assert decode_attributes(row["SpanAttributes"], row["SpanAttributeTypes"]) == {
        "http.response.status_code": 200,
        "http.route": "/smoothies",
        "ok": True,
    }
    assert decode_attributes(row["ResourceAttributes"], row["ResourceAttributeTypes"]) == {
        "service.name": "gateway"
    }
    assert row["Events"][0]["Name"] == "exception"
    assert row["Links"][0]["TraceId"] == "3" * 32
