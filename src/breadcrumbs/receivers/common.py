"""What every receiver shares: its limits, bounded body reading and bounded gunzip.

A body is read chunk by chunk with a running size check (the OpenTelemetry JS exporters send
chunked bodies without Content-Length), and gzip is inflated with ``max_length`` so a gzip bomb
is refused after ``decompressed_bytes`` of output, never inflated in full.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from breadcrumbs.codec import otlp, zipkin_native
from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.errors import BadInput, BreadcrumbsError, PayloadTooLarge, UnsupportedMediaType
from breadcrumbs.pipeline.base import Consumer
from breadcrumbs.receivers.decoding import Decoding, InProcessDecoding
from breadcrumbs.selfmetrics import SelfMetrics

log = logging.getLogger("breadcrumbs.receivers")


@dataclass(frozen=True, slots=True)
class ReceiverLimits:
    request_bytes: int = 16 * 1024**2  # on the wire
    decompressed_bytes: int = 64 * 1024**2  # after gunzip
    decode: DecodeLimits = field(default_factory=DecodeLimits)


@dataclass(frozen=True, slots=True)
class ReceiverContext:
    """Everything a receiver needs: where batches go, its limits, and the metrics."""

    consumer: Consumer
    limits: ReceiverLimits
    metrics: SelfMetrics
    decoding: Decoding = field(default_factory=InProcessDecoding)
    # OTLP protobuf: the native decoder when built (``--decoder`` chooses).
    otlp_proto: otlp.ProtoDecoder = field(default_factory=lambda: otlp.proto_decoder()[1])
    otlp_json: otlp.ProtoDecoder = field(default_factory=lambda: otlp.json_decoder()[1])
    # Zipkin JSON: the native decoder when built, as for OTLP protobuf.
    zipkin_json: otlp.ProtoDecoder = field(default_factory=lambda: zipkin_native.json_decoder()[1])


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


async def read_body(chunks: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BadInput(f"invalid Content-Length {content_length!r}") from None
        if declared > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes exceeds {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Inflate gzip (one or more members) producing at most ``limit`` bytes, else 413."""
    out: list[bytes] = []
    size = 0
    rest = data
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(rest, limit - size + 1)
        except zlib.error as error:
            raise BadInput(f"invalid gzip body: {error}") from None
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"decompressed request body exceeds {limit} bytes")
        out.append(chunk)
        if not inflater.eof:
            raise BadInput("truncated gzip body")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return b"".join(out)


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return gunzip_bounded(body, limit)
    if encoding == "identity":
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        return body
    raise UnsupportedMediaType(f"unsupported Content-Encoding {content_encoding!r}; use gzip")


async def accept(context: ReceiverContext, receiver: str, result: DecodeResult) -> None:
    """Hand decoded spans to the pipeline (durable on return) and count them."""
    metrics = context.metrics
    spans = result.batch.num_rows
    metrics.spans_received.labels(receiver).inc(spans + result.rejected)
    if result.rejected:
        metrics.spans_refused.labels(receiver, "bad_input").inc(result.rejected)
    if spans:
        try:
            await context.consumer.consume(result.batch)
        except BreadcrumbsError as error:
            metrics.spans_refused.labels(receiver, reason(error)).inc(spans)
            raise
        metrics.spans_accepted.labels(receiver).inc(spans)


def reason(error: BaseException) -> str:
    """The ``reason`` label of the refusal counters."""
    if isinstance(error, PayloadTooLarge):
        return "too_large"
    if isinstance(error, BadInput):
        return "bad_input"
    name = type(error).__name__.lower()
    return name if name in ("overloaded", "unavailable") else "error"


def refused(context: ReceiverContext, receiver: str, error: BaseException) -> None:
    context.metrics.requests_refused.labels(receiver, reason(error)).inc()
    if isinstance(error, BreadcrumbsError):
        log.debug("%s refused a request: %s", receiver, error.message)
    else:
        log.error("%s receiver failed", receiver, exc_info=error)
