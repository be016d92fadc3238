"""Every failure breadcrumbs reports, and its one mapping to HTTP and gRPC status codes.

::

    BreadcrumbsError
    ├── PermanentError          the request is wrong; retrying the same bytes fails again
    │   ├── BadInput            400 / INVALID_ARGUMENT
    │   │   ├── PayloadTooLarge     413 / INVALID_ARGUMENT (OTLP: not retryable)
    │   │   └── UnsupportedMediaType 415 / INVALID_ARGUMENT
    │   ├── NotFound            404 / NOT_FOUND
    │   └── ReadOnlyStore       403 / PERMISSION_DENIED (the Collector's tables: never written)
    ├── QueryTimeout            503 / DEADLINE_EXCEEDED, no Retry-After: the same query would
    │                           run as long again (narrow it instead)
    └── RetryableError          we are busy; retry later (OTLP throttling)
        ├── Overloaded          429 / RESOURCE_EXHAUSTED, with Retry-After
        └── Unavailable         503 / UNAVAILABLE, with Retry-After

Receivers and API adapters raise or catch these and call ``http_status``/``grpc_status``;
they never choose status codes themselves.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class BreadcrumbsError(Exception):
    """Base class; ``message`` is shown to the client as is."""

    http_status: ClassVar[int] = 500
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentError(BreadcrumbsError):
    """The client's mistake: never retried."""


class BadInput(PermanentError):
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class PayloadTooLarge(BadInput):
    http_status = 413


class UnsupportedMediaType(BadInput):
    http_status = 415


class NotFound(PermanentError):
    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND


class ReadOnlyStore(PermanentError):
    """The store is another system's tables, read and never written (``layout=otel``)."""

    http_status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class QueryTimeout(BreadcrumbsError):
    """A query ran past the statement timeout (``--query-timeout``) and was stopped."""

    http_status = 503
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class RetryableError(BreadcrumbsError):
    """Our condition, not the client's: retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Overloaded(RetryableError):
    """Queues or memory are full."""

    http_status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RetryableError):
    """Not ready yet, or shutting down."""

    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE


def http_status(error: BaseException) -> int:
    """The HTTP status for any exception; unknown exceptions are our bug (500)."""
    return error.http_status if isinstance(error, BreadcrumbsError) else 500


def grpc_status(error: BaseException) -> grpc.StatusCode:
    return error.grpc_code if isinstance(error, BreadcrumbsError) else grpc.StatusCode.INTERNAL


def retry_after(error: BaseException) -> int | None:
    """Seconds for a Retry-After header (or gRPC RetryInfo), or None when not retryable."""
    return error.retry_after_s if isinstance(error, RetryableError) else None
