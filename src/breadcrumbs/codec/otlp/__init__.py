"""OTLP traces (protobuf and JSON) to ``SpanBatch`` and back.

Modules: ``proto_in`` (protobuf in, the hot path, in Python), ``native`` (the same in Rust:
``breadcrumbs._native``, built from ``native/`` where cargo is present), ``json_in``
(OTLP/JSON in), ``json_native`` (the same in Rust), ``proto_out`` (protobuf out), ``columns``
(the span columns both Python decoders fill, with the attribute cache and the limits),
``values`` (attribute values of either wire form), ``shadow`` (the raw-attribute schema),
``key_values`` (many ``KeyValue``s in one parse).

The protobuf path is the ingest hot path, so it is built for speed in pure Python:

* upb parses the body with a *shadow* copy of the OTLP schema in which every ``attributes``
  field is ``repeated bytes`` and ``Span.status`` is ``bytes``. This is wire-compatible (a
  sub-message is a length-delimited field), so upb hands each attribute back as its raw
  ``KeyValue`` bytes in one C call per span instead of one Python wrapper per attribute.
* Raw ``KeyValue`` bytes repeat a lot (``http.method=GET``, ``db.system=postgresql`` ...), so
  their decoded (key, text, type code) live in a process-wide cache keyed by the raw bytes;
  a request's misses are decoded together in one upb parse (``key_values``).
* Columns are Python lists filled in one walk (local-bound appends, no per-span limit work)
  and turned into Arrow arrays once per request; ids are hex-encoded in one ``hexlify`` per
  column; checks on ids, times and enums are a few C-level passes (``map``, ``min``, ``in``)
  with a per-span loop only when something is wrong; rejected spans go in one
  ``Table.filter``. Limits and marker attributes are applied after the walk.
* Resource and scope columns are decoded once per ``ResourceSpans``/``ScopeSpans`` and
  repeated per span with ``take``.
* Per-request fixed costs matter as much (SDKs often send a few spans at a time): small
  attribute columns skip Arrow kernels, whose call overhead beats their speed there.

Rules (see also ``codec/base.py``):

* A span is rejected (OTLP partial success) for a trace id that is not 16 bytes or all zero, a
  span id that is not 8 bytes or all zero, a parent id that is neither empty nor a valid span
  id, a start time of 0, before 2000-01-01 or more than a day ahead, an end time before the
  start (rejected rather than clamped: the client sent a broken span and should hear so) or
  more than a day ahead.
* Duplicate attribute keys: the last one wins, at the position of the first.
* Unknown span kinds and status codes (proto3 enums are open) read as 0 (unspecified/unset).
* A truncated value keeps its first ``max_value_length`` characters and becomes a string
  (``s``): a cut JSON array or base64 text would no longer decode as its type. Only string,
  bytes, array and kvlist values are cut; numbers and bools (and so our int markers) never.
* A link with an invalid trace or span id is dropped and counted in
  ``breadcrumbs.dropped_links``; it does not reject its span.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.codec.otlp import json_native, native
from breadcrumbs.codec.otlp.columns import DEFAULT_LIMITS
from breadcrumbs.codec.otlp.json_in import decode_json
from breadcrumbs.codec.otlp.proto_in import decode_proto, decode_request
from breadcrumbs.codec.otlp.proto_out import encode_proto

__all__ = [
    "DECODERS",
    "DEFAULT_LIMITS",
    "JSON_DECODERS",
    "NATIVE_AVAILABLE",
    "decode_json",
    "decode_json_native",
    "decode_proto",
    "decode_proto_native",
    "decode_request",
    "encode_proto",
    "json_decoder",
    "proto_decoder",
]

ProtoDecoder: TypeAlias = Callable[[bytes, DecodeLimits], DecodeResult]

NATIVE_AVAILABLE: Final = native.AVAILABLE
"""Whether the Rust decoder was built (``pip install`` builds it when cargo is present)."""

decode_proto_native: Final = native.decode_proto
decode_json_native: Final = json_native.decode_json

DECODERS: Final[dict[str, ProtoDecoder]] = {"native": native.decode_proto, "python": decode_proto}
"""The OTLP protobuf decoders by name; both give the same batches and errors."""

JSON_DECODERS: Final[dict[str, ProtoDecoder]] = {
    "native": json_native.decode_json,
    "python": decode_json,
}
"""The OTLP/JSON decoders by name; both give the same batches and errors."""


def proto_decoder(name: str = "auto") -> tuple[str, ProtoDecoder]:
    """The decoder called ``name`` (``auto``: native when built, else python) and its name.

    Raises ``ValueError`` for ``native`` when the extension was not built."""
    if name == "auto":
        name = "native" if NATIVE_AVAILABLE else "python"
    if name == "native" and not NATIVE_AVAILABLE:
        raise ValueError(
            "the native decoder is not built (no Rust toolchain when breadcrumbs was "
            "installed); install cargo and reinstall, or use --decoder python"
        )
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}: use auto, native or python")
    return name, DECODERS[name]


def json_decoder(name: str = "auto") -> tuple[str, ProtoDecoder]:
    """The OTLP/JSON decoder called ``name``, chosen as ``proto_decoder`` chooses."""
    name = proto_decoder(name)[0]
    if name == "native" and not json_native.AVAILABLE:
        name = "python"  # an extension built before the JSON decoders
    return name, JSON_DECODERS[name]
