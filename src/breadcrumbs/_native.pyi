"""Type stub of the Rust extension built from ``native/`` (see ``codec/otlp/native.py``)."""

from typing import Any, final

@final
class Buffer:
    """Read-only bytes owned by Rust, exported through the buffer protocol."""

    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __len__(self) -> int: ...

def decode_otlp_proto(
    body: bytes,
    max_spans: int,
    max_attributes: int,
    max_value_length: int,
    max_events: int,
    max_links: int,
    /,
) -> tuple[int, object, int, Buffer | None, int, str] | None:
    """A serialized ``ExportTraceServiceRequest`` as (spans, an ``arrow_array`` PyCapsule of the
    ``SPAN_SCHEMA`` record batch, the address of its ``ArrowArray``, the keep mask (one byte a
    span) or None when every span is kept, rejected spans, why), or None when it has no spans;
    raises ``ValueError`` with the Python decoder's message."""

def decode_otlp_json(
    body: bytes,
    max_spans: int,
    max_attributes: int,
    max_value_length: int,
    max_events: int,
    max_links: int,
    /,
) -> tuple[int, object, int, Buffer | None, int, str] | None:
    """An OTLP/JSON ``ExportTraceServiceRequest`` in ``decode_otlp_proto``'s layout; raises
    ``ValueError`` for a body left to the Python decoder (which then names any fault)."""

def decode_zipkin_json(
    body: bytes,
    max_spans: int,
    max_attributes: int,
    max_value_length: int,
    max_events: int,
    max_links: int,
    /,
) -> tuple[int, object, int, Buffer | None, int, str] | None:
    """A Zipkin JSON v2 span list in ``decode_otlp_proto``'s layout; raises ``ValueError`` for
    a body left to the Python decoder."""

def zipkin_resource_keys() -> list[str]:
    """The Zipkin tag keys the native decoder files under the resource."""

def take_entries(chunks: list[list[Any]], index: Any, /) -> tuple[object, int]:
    """Rows ``index`` (uint64 row numbers over the chunks) of a chunked
    ``list<struct<key: string, value: string>>`` column, each chunk given as its (list
    offsets, key offsets, key bytes, value offsets, value bytes) without nulls or array
    offsets: (an ``arrow_array`` PyCapsule of the result, the address of its ``ArrowArray``).
    Raises ``ValueError`` for an index out of range or offsets outside their buffers."""
