"""Differential decoding: a decoder under test against its Python reference on the same body.

``both(reference, native)`` is a decoder that runs the two and requires the same outcome (the
same batch, rejected count and error text, or the same error class and message), then
returns the reference's. A test module that imports it under the reference's name runs every
one of its tests against both decoders. Where the extension is not built, it is the
reference alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.errors import BreadcrumbsError

Decoder = Callable[[bytes, DecodeLimits], DecodeResult]

_DEFAULT_LIMITS = DecodeLimits()


class DefaultLimitsDecoder(Protocol):
    """A decoder whose limits default, as the codecs' own functions do."""

    def __call__(self, body: bytes, limits: DecodeLimits = ..., /) -> DecodeResult: ...


def outcome(decoder: Decoder, body: bytes, limits: DecodeLimits) -> DecodeResult | str:
    """The decoder's result, or its error as "ClassName: message"."""
    try:
        return decoder(body, limits)
    except BreadcrumbsError as error:
        return f"{type(error).__name__}: {error.message}"


def assert_same(
    reference: Decoder, candidate: Decoder, body: bytes, limits: DecodeLimits = _DEFAULT_LIMITS
) -> DecodeResult | str:
    expected = outcome(reference, body, limits)
    actual = outcome(candidate, body, limits)
    if isinstance(expected, str):
        assert actual == expected
        return expected
    assert isinstance(actual, DecodeResult), actual
    assert actual.batch.schema == expected.batch.schema
    assert actual.batch.equals(expected.batch), (
        actual.batch.to_pylist(),
        expected.batch.to_pylist(),
    )
    assert (actual.rejected, actual.error) == (expected.rejected, expected.error)
    return expected


def both(
    reference: DefaultLimitsDecoder, candidate: Decoder, available: bool
) -> DefaultLimitsDecoder:
    """A decoder checking ``candidate`` against ``reference`` on every call."""
    if not available:
        return reference

    def decode(body: bytes, limits: DecodeLimits = _DEFAULT_LIMITS, /) -> DecodeResult:
        expected = reference(body, limits)  # raises the reference's error, if any
        assert_same(reference, candidate, body, limits)
        return expected

    return decode


def taken_natively(
    native_decode: Callable[[bytes, DecodeLimits], object], body: bytes, limits: DecodeLimits
) -> bool:
    """Whether a Rust decoder (an ``_native.decode_*``) took the body itself: a ValueError is
    how it leaves a body to the Python reference."""
    try:
        native_decode(body, limits)
    except ValueError:
        return False
    return True
