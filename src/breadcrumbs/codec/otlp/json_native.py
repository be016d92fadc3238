"""OTLP/JSON decoding in Rust (``breadcrumbs._native``): the batch ``json_in`` gives, without
the GIL.

The Rust side (``native/src/otlp_json.rs``) transcodes the JSON request to the protobuf one it
stands for and decodes that with the native protobuf decoder, so the limits, markers and
checks are those of the protobuf path. A body it cannot transcode exactly as the reference
reads it (bad input, unusual spellings: see ``otlp_json.rs``) is left to ``json_in``, so
errors and rare forms are the reference's by construction. ``tests/codec/test_otlp.py`` runs
its JSON tests on both and ``tests/codec/test_otlp_json_native.py`` compares them further.
"""

from __future__ import annotations

from typing import Final

from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import json_in, native
from breadcrumbs.codec.otlp.columns import DEFAULT_LIMITS

_native = native._native
AVAILABLE: Final = _native is not None and hasattr(_native, "decode_otlp_json")


def decode_json(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """An OTLP/JSON ``ExportTraceServiceRequest`` as a ``SpanBatch`` (native decoder)."""
    if _native is None or not AVAILABLE:
        raise RuntimeError("breadcrumbs._native is not built")
    # Left to the reference: bad input, unusual spellings.
    return native.decode_or_refer(_native.decode_otlp_json, body, limits, json_in.decode_json)
