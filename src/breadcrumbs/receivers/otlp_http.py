"""OTLP/HTTP receiver: ``POST /v1/traces`` (port 4318), per the OTLP specification.

- ``application/x-protobuf`` or ``application/json`` bodies (anything else: 415), optionally
  ``Content-Encoding: gzip``; chunked bodies without Content-Length are read with a running
  size bound (413).
- Every response body uses the request's encoding: an ``ExportTraceServiceResponse`` on
  success, with ``partial_success`` when spans were rejected; a ``google.rpc.Status`` on
  failure. Status codes and Retry-After come only from ``errors``.
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from breadcrumbs.errors import (
    BreadcrumbsError,
    UnsupportedMediaType,
    grpc_status,
    http_status,
    retry_after,
)
from breadcrumbs.receivers.common import (
    ReceiverContext,
    accept,
    decompress,
    media_type,
    read_body,
    refused,
)
from breadcrumbs.receivers.decoding import Decoder

RECEIVER = "otlp_http"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def _encode(message: Message, content_type: str) -> bytes:
    if content_type == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return bytes(message.SerializeToString())


def _error_response(error: BaseException, content_type: str) -> Response:
    status = status_pb2.Status(
        code=grpc_status(error).value[0],
        message=error.message if isinstance(error, BreadcrumbsError) else "internal error",
    )
    headers = {}
    seconds = retry_after(error)
    if seconds is not None:
        headers["Retry-After"] = str(seconds)
    return Response(
        _encode(status, content_type),
        status_code=http_status(error),
        media_type=content_type,
        headers=headers,
    )


def app(context: ReceiverContext) -> Starlette:
    limits = context.limits
    decoders: dict[str, Decoder] = {PROTOBUF: context.otlp_proto, JSON: context.otlp_json}

    async def export(request: Request) -> Response:
        content_type = media_type(request.headers.get("content-type"))
        try:
            decoder = decoders.get(content_type)
            if decoder is None:
                raise UnsupportedMediaType(
                    f"unsupported Content-Type {content_type or '(none)'!r}; "
                    f"use {PROTOBUF} or {JSON}"
                )
            body = await read_body(
                request.stream(), request.headers.get("content-length"), limits.request_bytes
            )
            body = decompress(
                body, request.headers.get("content-encoding"), limits.decompressed_bytes
            )
            result = await context.decoding.decode(decoder, body, limits.decode)
            await accept(context, RECEIVER, result)
        except ClientDisconnect:  # gone before the body arrived: nobody to answer
            return Response(status_code=400)
        except Exception as error:
            refused(context, RECEIVER, error)
            return _error_response(error, content_type if content_type == JSON else PROTOBUF)
        response = trace_service_pb2.ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.error
        return Response(_encode(response, content_type), media_type=content_type)

    return Starlette(routes=[Route("/v1/traces", export, methods=["POST"])])
