"""Zipkin v2 JSON decoding in Rust (``breadcrumbs._native``): the batch ``zipkin.decode_json``
gives, without the GIL.

The Rust decoder (``native/src/zipkin.rs``) takes the requests tracers send; a body it cannot
decode exactly as the reference would (bad input, a rejected span, a rare spelling: see
``Fallback`` there) it leaves to ``zipkin.decode_json``, so errors, rejected counts and rare
forms are the reference's by construction. ``tests/codec/test_zipkin_native.py`` holds the
two to the same output.
"""

from __future__ import annotations

from typing import Final

from breadcrumbs.codec import otlp, zipkin
from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import native

__all__ = ["AVAILABLE", "DECODERS", "decode_json", "json_decoder"]

_native = native._native
AVAILABLE: Final = _native is not None and hasattr(_native, "decode_zipkin_json")

_DEFAULT_LIMITS: Final = DecodeLimits()


def decode_json(body: bytes, limits: DecodeLimits = _DEFAULT_LIMITS) -> DecodeResult:
    """Zipkin v2 JSON (a list of spans) into a batch (native decoder)."""
    if _native is None or not AVAILABLE:
        raise RuntimeError("breadcrumbs._native is not built")
    # Left to the reference: bad input, rejected spans, rare forms.
    return native.decode_or_refer(_native.decode_zipkin_json, body, limits, zipkin.decode_json)


DECODERS: Final = {"native": decode_json, "python": zipkin.decode_json}
"""The Zipkin JSON decoders by name; both give the same batches and errors."""


def json_decoder(name: str = "auto") -> tuple[str, otlp.ProtoDecoder]:
    """The Zipkin JSON decoder called ``name`` (as ``otlp.proto_decoder`` names them)."""
    name = otlp.proto_decoder(name)[0]
    if name == "native" and not AVAILABLE:
        name = "python"  # an extension built before the JSON decoders: the proto one only
    return name, DECODERS[name]
