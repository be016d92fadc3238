"""Bounded body reading and bounded gunzip, the receivers' first line of defence."""

import contextlib
import gzip
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.errors import BadInput, PayloadTooLarge, UnsupportedMediaType
from breadcrumbs.receivers.common import decompress, gunzip_bounded, media_type, read_body


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(st.binary(max_size=4096), st.integers(min_value=0, max_value=5000))
def test_gunzip_bounded_round_trips_or_refuses_beyond_the_limit(data: bytes, limit: int) -> None:
    packed = gzip.compress(data)
    if len(data) <= limit:
        assert gunzip_bounded(packed, limit) == data
    else:
        with pytest.raises(PayloadTooLarge):
            gunzip_bounded(packed, limit)


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(st.binary(max_size=512))
def test_gunzip_of_garbage_is_bad_input_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(BadInput):
        gunzip_bounded(data, 1 << 20)


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge, match="decompressed"):
        gunzip_bounded(bomb, 1 << 20)


def test_concatenated_gzip_members_and_truncation() -> None:
    assert gunzip_bounded(gzip.compress(b"ab") + gzip.compress(b"cd"), 10) == b"abcd"
    with pytest.raises(BadInput, match="truncated"):
        gunzip_bounded(gzip.compress(b"abcdef" * 100)[:-12], 10_000)


def test_decompress_encodings() -> None:
    assert decompress(b"abc", None, 3) == b"abc"
    assert decompress(gzip.compress(b"abc"), "GZIP", 3) == b"abc"
    with pytest.raises(PayloadTooLarge):
        decompress(b"abcd", "identity", 3)
    with pytest.raises(UnsupportedMediaType):
        decompress(b"abc", "br", 3)


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_read_body_bounds_chunked_and_declared_lengths() -> None:
    assert await read_body(_chunks([b"ab", b"cd"]), None, 4) == b"abcd"
    with pytest.raises(PayloadTooLarge):
        await read_body(_chunks([b"ab", b"cd", b"e"]), None, 4)
    with pytest.raises(PayloadTooLarge):
        await read_body(_chunks([]), "5", 4)
    with pytest.raises(BadInput):
        await read_body(_chunks([]), "five", 4)


def test_media_type() -> None:
    assert media_type("Application/JSON; charset=utf-8") == "application/json"
    assert media_type(None) == ""
