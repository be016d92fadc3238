"""OTLP protobuf decoding in Rust (``breadcrumbs._native``), the same batch as ``proto_in``.

The extension walks the request without the GIL and returns the columns as one Arrow C data
interface array (a ``SPAN_SCHEMA`` record batch whose buffers Rust owns until pyarrow releases
them), which this module imports without a copy. The rules, limits, markers
and error messages are ``proto_in``'s (see ``codec/otlp/__init__.py``); the differential
tests in ``tests/codec/test_otlp_native.py`` hold the two to the same output.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Final

import pyarrow as pa

from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import proto_in
from breadcrumbs.codec.otlp.columns import DEFAULT_LIMITS
from breadcrumbs.model import SPAN_SCHEMA

_native: ModuleType | None
try:
    import breadcrumbs._native as _native
except ImportError:  # built by ``pip install`` where cargo is present; else Python decodes
    _native = None

AVAILABLE: Final = _native is not None

_EMPTY_BATCH: Final = SPAN_SCHEMA.empty_table()


def decode_proto(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeResult:
    """A serialized ``ExportTraceServiceRequest`` as a ``SpanBatch`` (native decoder)."""
    if _native is None:
        raise RuntimeError("breadcrumbs._native is not built")
    # A body the wire format refuses goes to the reference decoder, which names why, so both
    # decoders give the same message even where upb finds another fault first (bad UTF-8
    # before a corrupt length, say). Bad input only, so the hot path never pays for it.
    return decode_or_refer(_native.decode_otlp_proto, body, limits, proto_in.decode_proto)


NativeDecoder = Callable[[bytes, DecodeLimits], tuple[Any, ...] | None]
ReferenceDecoder = Callable[[bytes, DecodeLimits], DecodeResult]


def decode_or_refer(
    decode: NativeDecoder, body: bytes, limits: DecodeLimits, reference: ReferenceDecoder
) -> DecodeResult:
    """``decode`` (a native decoder) under ``limits``; a body it raises ``ValueError`` for
    (bad input, or a form it leaves to the reference) is decoded by ``reference``."""
    try:
        parts = decode(bytes(body), limits)
    except ValueError:
        return reference(body, limits)
    return batch_from_parts(parts)


def batch_from_parts(parts: tuple[Any, ...] | None) -> DecodeResult:
    """The ``SpanBatch`` of a native decoder's columns (None: no spans). Every native
    decoder (OTLP protobuf and JSON, Zipkin) returns this one tuple layout."""
    if parts is None:
        return DecodeResult(_EMPTY_BATCH)
    count, _capsule, address, keep, rejected, error = parts
    # Imported by address against the schema object (the PyCapsule protocol would export and
    # parse SPAN_SCHEMA for every request, ~70 us): the import moves the array out of the
    # capsule, which `parts` keeps alive until then and which frees it if never imported.
    batch = pa.RecordBatch._import_from_c(address, SPAN_SCHEMA)
    table = pa.Table.from_batches([batch])
    if keep is None:
        return DecodeResult(table)
    mask = pa.Array.from_buffers(pa.uint8(), count, [None, pa.py_buffer(keep)])
    return DecodeResult(table.filter(mask.cast(pa.bool_())), rejected, error)
