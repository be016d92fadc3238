"""Zipkin v2 receiver: ``POST /api/v2/spans`` (port 9411, next to the Zipkin query API).

JSON (``application/json``, also assumed when Content-Type is missing, as Zipkin does) or
proto3 (``application/x-protobuf``), optionally gzip. 202 on success; bad data is a 400 with
a plain-text message. Zipkin has no partial-success answer: when some spans are rejected and
at least one is kept the answer is still 202 (the kept spans are durable, and a 400 would
tell the client its whole batch failed); the rejected ones are counted in
``breadcrumbs_receiver_spans_refused`` and logged. When every span is rejected it is a 400.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from breadcrumbs.codec import zipkin as zipkin_codec
from breadcrumbs.errors import (
    BadInput,
    BreadcrumbsError,
    UnsupportedMediaType,
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

log = logging.getLogger("breadcrumbs.receivers.zipkin")

RECEIVER = "zipkin"


def routes(context: ReceiverContext) -> list[BaseRoute]:
    limits = context.limits
    decoders: dict[str, Decoder] = {
        "": context.zipkin_json,
        "application/json": context.zipkin_json,
        "application/x-protobuf": zipkin_codec.decode_proto,
        "application/protobuf": zipkin_codec.decode_proto,
    }

    async def post_spans(request: Request) -> Response:
        content_type = media_type(request.headers.get("content-type"))
        try:
            decoder = decoders.get(content_type)
            if decoder is None:
                raise UnsupportedMediaType(
                    f"unsupported Content-Type {content_type!r}; "
                    "use application/json or application/x-protobuf"
                )
            body = await read_body(
                request.stream(), request.headers.get("content-length"), limits.request_bytes
            )
            body = decompress(
                body, request.headers.get("content-encoding"), limits.decompressed_bytes
            )
            result = await context.decoding.decode(decoder, body, limits.decode)
            await accept(context, RECEIVER, result)
            if result.rejected and not result.batch.num_rows:
                raise BadInput(f"all {result.rejected} spans rejected: {result.error}")
        except ClientDisconnect:  # gone before the body arrived: nobody to answer
            return Response(status_code=400)
        except Exception as error:
            refused(context, RECEIVER, error)
            headers = {}
            seconds = retry_after(error)
            if seconds is not None:
                headers["Retry-After"] = str(seconds)
            message = error.message if isinstance(error, BreadcrumbsError) else "internal error"
            return PlainTextResponse(message, status_code=http_status(error), headers=headers)
        if result.rejected:
            log.warning(
                "zipkin: kept %d spans, rejected %d: %s",
                result.batch.num_rows,
                result.rejected,
                result.error,
            )
        return Response(status_code=202)

    return [Route("/api/v2/spans", post_spans, methods=["POST"])]
