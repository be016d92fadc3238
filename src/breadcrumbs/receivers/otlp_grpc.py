"""OTLP/gRPC receiver: ``TraceService/Export`` on a ``grpc.aio`` server (port 4317).

The method is registered with raw-bytes (de)serialisers instead of the generated servicer:
the request is decoded once by the same codec as OTLP/HTTP (``context.otlp_proto``), so a
malformed message is an INVALID_ARGUMENT from us rather than grpc's own INTERNAL
"Exception deserializing request". gzip is inflated by grpc; its message size limit is
set from ``ReceiverLimits.decompressed_bytes``. Retryable refusals carry a
``google.rpc.RetryInfo`` in the status details (``grpc-status-details-bin``), which the
OpenTelemetry exporters read as their back-off.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from breadcrumbs.errors import BreadcrumbsError, grpc_status, retry_after
from breadcrumbs.receivers.common import ReceiverContext, accept, refused

RECEIVER = "otlp_grpc"
SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
_DETAILS_KEY = "grpc-status-details-bin"


def _identity(data: bytes) -> bytes:
    return data


def _trailers(
    error: BaseException, code: grpc.StatusCode, message: str
) -> tuple[tuple[str, bytes], ...]:
    seconds = retry_after(error)
    if seconds is None:
        return ()
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return ((_DETAILS_KEY, status.SerializeToString()),)


def handler(context: ReceiverContext) -> grpc.GenericRpcHandler:
    """The generic handler for ``TraceService/Export``; add it to a ``grpc.aio`` server."""

    async def export(body: bytes, rpc: grpc.aio.ServicerContext) -> bytes:
        try:
            result = await context.decoding.decode(context.otlp_proto, body, context.limits.decode)
            await accept(context, RECEIVER, result)
        except Exception as error:
            refused(context, RECEIVER, error)
            code = grpc_status(error)
            message = error.message if isinstance(error, BreadcrumbsError) else "internal error"
            await rpc.abort(code, message, trailing_metadata=_trailers(error, code, message))
            raise AssertionError("unreachable: abort raises") from error
        response = trace_service_pb2.ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.error
        return bytes(response.SerializeToString())

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Export": grpc.unary_unary_rpc_method_handler(
                export, request_deserializer=_identity, response_serializer=_identity
            )
        },
    )


def server(context: ReceiverContext, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """A ``grpc.aio`` server bound to ``host:port`` (0 picks a free port); returns it and
    the bound port. Start it with ``await server.start()``."""
    limit = context.limits.decompressed_bytes
    aio_server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    aio_server.add_generic_rpc_handlers((handler(context),))
    bound = aio_server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} for OTLP gRPC")
    return aio_server, bound
