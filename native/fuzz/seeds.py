"""Seeds for the decoder's fuzz target: real OTLP requests, small enough to mutate quickly.

``python native/fuzz/seeds.py DIR`` writes the benchmark's realistic requests (1-12 spans, with
events and errors) and requests with every attribute type, links and nested values into DIR.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from decode import make_request


def every_value() -> ExportTraceServiceRequest:
    """One span with an attribute of each type, an event, a link, a status and a trace state."""
    now = time.time_ns()
    values = [
        AnyValue(string_value="ü€😀 text"),
        AnyValue(bool_value=True),
        AnyValue(int_value=-(2**63)),
        AnyValue(double_value=1.5e-7),
        AnyValue(bytes_value=b"\x00\xff"),
        AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()])),
        AnyValue(
            kvlist_value=KeyValueList(
                values=[KeyValue(key="a", value=AnyValue(string_value='q"\\\n'))]
            )
        ),
        AnyValue(),
    ]
    attributes = [KeyValue(key=f"k{i}", value=v) for i, v in enumerate(values)]
    span = Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        parent_span_id=b"\x03" * 8,
        trace_state="a=b",
        name="every value",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=now - 10**9,
        end_time_unix_nano=now,
        attributes=attributes,
        events=[Span.Event(time_unix_nano=now, name="e", attributes=attributes[:3])],
        links=[Span.Link(trace_id=b"\x04" * 16, span_id=b"\x05" * 8, attributes=attributes[3:])],
    )
    span.status.code = Status.STATUS_CODE_ERROR
    span.status.message = "boom"
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(attributes[:2])
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "seeds"
    scope_spans.spans.append(span)
    return request


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    requests = [make_request(spans, rng) for spans in (1, 2, 3, 5, 8, 12)]
    for i, request in enumerate([*requests, every_value()]):
        (out / f"seed-{i}").write_bytes(request.SerializeToString())


if __name__ == "__main__":
    main()
