"""``key_value_columns`` against decoding each ``KeyValue`` on its own with the real classes.

It may decline (None) but must never disagree: the decoder falls back when it declines.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from breadcrumbs.codec.otlp.key_values import key_value_columns
from breadcrumbs.model import encode_value


def _one_by_one(raws: list[bytes]) -> tuple[list[str], list[str], str]:
    keys, texts, codes = [], [], []
    for raw in raws:
        kv = KeyValue.FromString(raw)
        which = kv.value.WhichOneof("value")
        value: Any = getattr(kv.value, which) if which else ""
        if which == "array_value":
            value = [v.int_value for v in kv.value.array_value.values]
        text, code = encode_value(value)
        keys.append(kv.key)
        texts.append(text)
        codes.append(code)
    return keys, texts, "".join(codes)


scalars = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), st.text(max_size=20)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(int_value=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=False, allow_infinity=True)),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=12)),
)
values = st.one_of(
    scalars,
    st.just(AnyValue()),  # OTLP's null: encoded as an empty value
    st.builds(
        lambda v: AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=v)])),
        st.integers(0, 9),
    ),
)
key_values = st.builds(
    lambda key, value, with_value: (
        KeyValue(key=key, value=value) if with_value else KeyValue(key=key)
    ).SerializeToString(),
    st.text(max_size=12),
    values,
    st.booleans(),
)


@given(st.lists(key_values, min_size=1, max_size=30))
def test_agrees_with_one_message_at_a_time(raws: list[bytes]) -> None:
    decoded = key_value_columns(raws)
    if decoded is not None:
        assert decoded == _one_by_one(raws)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), scalars), min_size=1, max_size=30))
def test_decodes_every_scalar_proto3_encoding(pairs: list[tuple[str, AnyValue]]) -> None:
    # What every SDK sends (non-empty keys, scalar values) must take the fast path.
    raws = [KeyValue(key=key, value=value).SerializeToString() for key, value in pairs]
    assert key_value_columns(raws) == _one_by_one(raws)


def test_typed_texts_follow_the_model_encoding() -> None:
    raws = [
        KeyValue(key="s", value=AnyValue(string_value="kale")).SerializeToString(),
        KeyValue(key="i", value=AnyValue(int_value=-7)).SerializeToString(),
        KeyValue(key="d", value=AnyValue(double_value=0.1)).SerializeToString(),
        KeyValue(key="b", value=AnyValue(bool_value=True)).SerializeToString(),
        KeyValue(key="y", value=AnyValue(bytes_value=b"\x00\xff")).SerializeToString(),
    ]
    assert key_value_columns(raws) == (
        ["s", "i", "d", "b", "y"],
        ["kale", "-7", "0.1", "true", base64.b64encode(b"\x00\xff").decode()],
        "sidby",
    )


def _string_kv(key: str, text: str) -> bytes:
    return KeyValue(key=key, value=AnyValue(string_value=text)).SerializeToString()


def test_declines_explicitly_encoded_defaults() -> None:
    # An explicit empty key (field 1, length 0) reads like a separator: decline, never guess.
    explicit_empty_key = b"\x0a\x00" + _string_kv("", "v")
    assert key_value_columns([_string_kv("a", "1"), explicit_empty_key]) is None


def test_repeated_fields_keep_the_last_value_as_protobuf_does() -> None:
    twice = _string_kv("first", "1") + _string_kv("second", "2")  # one message, fields twice
    raws = [twice, _string_kv("c", "3")]
    assert key_value_columns(raws) == _one_by_one(raws) == (["second", "c"], ["2", "3"], "ss")


def test_declines_a_value_that_sets_two_oneof_members() -> None:
    value = (
        AnyValue(string_value="x").SerializeToString() + AnyValue(int_value=1).SerializeToString()
    )
    raw = b"\x0a\x01k\x12" + bytes([len(value)]) + value
    assert key_value_columns([raw, _string_kv("b", "2")]) is None


@given(st.lists(st.binary(max_size=24), min_size=1, max_size=8))
def test_arbitrary_bytes_never_raise(raws: list[bytes]) -> None:
    decoded = key_value_columns(raws)
    if decoded is not None:
        assert len(decoded[0]) == len(decoded[1]) == len(decoded[2]) == len(raws)
