"""Trace ids as typed: full, Zipkin 64-bit, or a prefix of 8+ hex characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput
from breadcrumbs.query.trace_ids import parse_trace_id_or_prefix


def test_full_ids_prefixes_and_zipkin_ids() -> None:
    full = "4BF92F3577B34DA6A3CE929D0E0E4736"
    assert parse_trace_id_or_prefix(full) == (full.lower(), None)
    assert parse_trace_id_or_prefix("4bf92f35") == (None, "4bf92f35")
    assert parse_trace_id_or_prefix(" 4bf92f3577b3 ") == (None, "4bf92f3577b3")
    assert parse_trace_id_or_prefix("a3ce929d0e0e4736") == (
        "0000000000000000a3ce929d0e0e4736",
        "a3ce929d0e0e4736",
    )


@pytest.mark.parametrize("text", ["", "4bf92f3", "xyz12345", "4bf92f35-77b3", "0" * 32, "a" * 33])
def test_bad_ids(text: str) -> None:
    with pytest.raises(BadInput):
        parse_trace_id_or_prefix(text)


@given(st.text(max_size=40))
def test_any_text_is_an_id_a_prefix_or_bad_input(text: str) -> None:
    try:
        full, prefix = parse_trace_id_or_prefix(text)
    except BadInput:
        return
    assert full is not None or prefix is not None
    if full is not None:
        assert len(full) == 32
    if prefix is not None:
        assert 8 <= len(prefix) <= 32
