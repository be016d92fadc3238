"""What a natively decoded batch holds while it waits for the store: its bytes, not the
decoder's growth slack (the buffers are shrunk to their length before pyarrow takes them).

Measured with glibc's ``mallinfo2`` (the Rust buffers come from the system allocator): the
heap in use grows by about the batches' ``nbytes`` while they are held. Before the shrink it
grew ~2.5x that (bench/README.md, Ingest, 4 Dec).
"""

from __future__ import annotations

import base64
import ctypes
import gc
import json
from collections.abc import Callable

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from tests.codec.test_otlp import good_span

from breadcrumbs.codec import otlp
from breadcrumbs.codec.base import DecodeResult

pytestmark = pytest.mark.skipif(
    not otlp.NATIVE_AVAILABLE, reason="the native decoder is not built (no Rust toolchain)"
)

REQUESTS = 60
SPANS = 1000


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap_in_use() -> Callable[[], int]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    mallinfo2.restype = _Mallinfo2

    def in_use() -> int:
        info = mallinfo2()
        return int(info.uordblks + info.hblkhd)

    return in_use


def _request(seed: int) -> ExportTraceServiceRequest:
    """1000 spans of 8 attributes under two resources, as an SDK batches them."""

    def attrs(n: int) -> list[KeyValue]:
        return [
            KeyValue(key=f"app.key{k}", value=AnyValue(string_value=f"value-{seed}-{n}-{k}"))
            for k in range(8)
        ]

    resources = []
    for r in range(2):
        spans = [
            good_span(
                1 + (n % 200), span_id=(seed * SPANS + n + 1).to_bytes(8), attributes=attrs(n)
            )
            for n in range(r * SPANS // 2, (r + 1) * SPANS // 2)
        ]
        resource = Resource(
            attributes=[
                KeyValue(key="service.name", value=AnyValue(string_value=f"svc{r}")),
                KeyValue(key="host.name", value=AnyValue(string_value=f"host-{r}.example")),
            ]
        )
        scope = ScopeSpans(scope=InstrumentationScope(name="scope"), spans=spans)
        resources.append(ResourceSpans(resource=resource, scope_spans=[scope]))
    return ExportTraceServiceRequest(resource_spans=resources)


def _held_bytes(decode: Callable[[int], DecodeResult]) -> tuple[int, int]:
    """(heap growth, Arrow bytes) while REQUESTS decoded batches are held."""
    in_use = _heap_in_use()
    decode(0)  # first-use allocations out of the figure
    gc.collect()
    before = in_use()
    held = [decode(i).batch for i in range(REQUESTS)]
    grown = in_use() - before
    assert sum(batch.num_rows for batch in held) == REQUESTS * SPANS
    return grown, sum(batch.nbytes for batch in held)


def test_a_held_protobuf_batch_costs_its_bytes() -> None:
    bodies = [_request(i).SerializeToString() for i in range(REQUESTS)]
    grown, nbytes = _held_bytes(lambda i: otlp.decode_proto_native(bodies[i]))
    assert grown < 1.25 * nbytes, (grown, nbytes)


def _json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON of ``request``: ids as hex (protobuf's JSON mapping writes base64)."""
    body = MessageToDict(request)
    for resource_spans in body["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for field in ("traceId", "spanId"):
                    span[field] = base64.b64decode(span[field]).hex()
    return json.dumps(body).encode()


def test_a_held_json_batch_costs_its_bytes() -> None:
    bodies = [_json(_request(i)) for i in range(REQUESTS)]
    grown, nbytes = _held_bytes(lambda i: otlp.decode_json_native(bodies[i]))
    assert grown < 1.25 * nbytes, (grown, nbytes)
