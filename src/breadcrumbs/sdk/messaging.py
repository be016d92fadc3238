"""Trace context through message queues, with the OpenTelemetry messaging conventions.

    headers: dict[str, str] = {}
    with producer_span("order-events", system="sqlite-outbox", headers=headers):
        outbox.put(body, headers)            # headers now carry traceparent (+ baggage)

    with consumer_span(msg.headers, "order-events", system="sqlite-outbox"):
        handle(msg)                          # a child of the producer span

    with batch_consumer_span([m.headers for m in batch], "order-digest", system="..."):
        handle_all(batch)                    # one span, linked to every message's producer

A single message's consumer continues the producer's trace; a batch consumer cannot have
many parents, so it carries one span link per message instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import AttributeValue

__all__ = [
    "batch_consumer_span",
    "consumer_span",
    "extract",
    "inject",
    "producer_span",
]

_TRACER = "breadcrumbs.sdk.messaging"

HeaderValue = str | bytes


class _HeaderGetter(Getter[Mapping[str, HeaderValue]]):
    """Reads headers case-insensitively; bytes values (Kafka-style) are decoded."""

    def get(self, carrier: Mapping[str, HeaderValue], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            value = next((v for k, v in carrier.items() if k.lower() == lowered), None)
        if value is None:
            return None
        return [value.decode("utf-8", "replace") if isinstance(value, bytes) else value]

    def keys(self, carrier: Mapping[str, HeaderValue]) -> list[str]:
        return list(carrier.keys())


_getter = _HeaderGetter()


def inject(
    headers: MutableMapping[str, str] | None = None,
    context: otel_context.Context | None = None,
) -> MutableMapping[str, str]:
    """Write the current (or given) trace context and baggage into ``headers``; return them."""
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    propagate.inject(carrier, context=context)
    return carrier


def extract(headers: Mapping[str, HeaderValue] | None) -> otel_context.Context:
    """The context carried by a message's headers (an empty context if there is none)."""
    return propagate.extract(headers or {}, getter=_getter)


def _base_attributes(
    destination: str, system: str, operation: str, op_type: str
) -> dict[str, AttributeValue]:
    return {
        "messaging.system": system,
        "messaging.destination.name": destination,
        "messaging.operation.name": operation,
        "messaging.operation.type": op_type,
    }


@contextmanager
def producer_span(
    destination: str,
    *,
    system: str,
    headers: MutableMapping[str, str] | None = None,
    message_id: str | None = None,
    body_size: int | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    operation: str = "send",
) -> Iterator[Span]:
    """A PRODUCER span ``"send <destination>"``; its context is injected into ``headers``."""
    attrs = _base_attributes(destination, system, operation, "send")
    if message_id is not None:
        attrs["messaging.message.id"] = message_id
    if body_size is not None:
        attrs["messaging.message.body.size"] = body_size
    attrs.update(attributes or {})
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"{operation} {destination}", kind=SpanKind.PRODUCER, attributes=attrs
    ) as span:
        if headers is not None:
            inject(headers)
        yield span


@contextmanager
def consumer_span(
    headers: Mapping[str, HeaderValue] | None,
    destination: str,
    *,
    system: str,
    message_id: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    operation: str = "process",
) -> Iterator[Span]:
    """A CONSUMER span ``"process <destination>"``, a child of the message's producer."""
    attrs = _base_attributes(destination, system, operation, "process")
    if message_id is not None:
        attrs["messaging.message.id"] = message_id
    attrs.update(attributes or {})
    parent = extract(headers)
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"{operation} {destination}", context=parent, kind=SpanKind.CONSUMER, attributes=attrs
    ) as span:
        yield span


@contextmanager
def batch_consumer_span(
    batch_headers: Iterable[Mapping[str, HeaderValue] | None],
    destination: str,
    *,
    system: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    operation: str = "process",
) -> Iterator[Span]:
    """A CONSUMER span for a batch with one link per message's context.

    Its parent is the current span, if any (usually none: the batch starts a new trace).
    """
    links: list[Link] = []
    count = 0
    for headers in batch_headers:
        count += 1
        ctx = trace.get_current_span(extract(headers)).get_span_context()
        if ctx.is_valid:
            links.append(Link(ctx, {"messaging.batch.index": count - 1}))
    attrs = _base_attributes(destination, system, operation, "process")
    attrs["messaging.batch.message_count"] = count
    attrs.update(attributes or {})
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"{operation} {destination}",
        kind=SpanKind.CONSUMER,
        attributes=attrs,
        links=links,
    ) as span:
        yield span
