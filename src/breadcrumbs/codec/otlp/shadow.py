"""The *shadow* OTLP schema: the real one with attributes (and span status) left as raw bytes.

upb then hands each attribute back as its raw ``KeyValue`` bytes in one C call per span instead
of one Python wrapper per attribute; a sub-message is a length-delimited field, so the two
schemas are wire-compatible. Encoding uses it too: attributes go in as memoised raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def _shadow_request_class() -> Any:
    """``ExportTraceServiceRequest`` with attributes and status left as raw bytes."""
    protos = []
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        protos.append(proto)
    raw = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES

    def rawify(message: descriptor_pb2.DescriptorProto, names: Iterable[str]) -> None:
        for field in message.field:
            if field.name in names:
                field.type = raw
                field.ClearField("type_name")

    for proto in protos:
        for message in proto.message_type:
            if message.name == "Resource":
                rawify(message, ["attributes"])
            elif message.name == "Span":
                rawify(message, ["attributes", "status"])
                for nested in message.nested_type:
                    if nested.name in ("Event", "Link"):
                        rawify(nested, ["attributes"])
    pool = descriptor_pool.DescriptorPool()
    for proto in protos:
        pool.Add(proto)
    name = ExportTraceServiceRequest.DESCRIPTOR.full_name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


_ShadowRequest: Final = _shadow_request_class()


def _shadow(name: str) -> Any:
    pool = _ShadowRequest.DESCRIPTOR.file.pool
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


# Encoding uses the shadow schema too: attributes go in as memoised raw ``KeyValue`` bytes.
_ShadowResourceSpans: Final = _shadow("opentelemetry.proto.trace.v1.ResourceSpans")
_ShadowScopeSpans: Final = _shadow("opentelemetry.proto.trace.v1.ScopeSpans")
_ShadowResource: Final = _shadow("opentelemetry.proto.resource.v1.Resource")
_ShadowScope: Final = _shadow("opentelemetry.proto.common.v1.InstrumentationScope")
_ShadowSpan: Final = _shadow("opentelemetry.proto.trace.v1.Span")
_ShadowEvent: Final = _shadow("opentelemetry.proto.trace.v1.Span.Event")
_ShadowLink: Final = _shadow("opentelemetry.proto.trace.v1.Span.Link")
