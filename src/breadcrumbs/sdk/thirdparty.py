"""`third_party`: a CLIENT span around a call to a dependency that sends no spans itself.

    legacy = third_party("legacy-pricing", "tax", server_address="10.0.0.7", timeout=0.5)

    async with legacy:                       # the timeout is enforced for async code
        rate = await fetch_tax(order)

    @legacy                                  # or as a decorator, sync or async
    def lookup(sku): ...

Tracing backends infer the dependency from ``peer.service`` on these client spans, since the
peer never reports. HTTP client instrumentations are suppressed inside the span so the call
is one client span, not two. A timeout sets ``error.type=timeout``; any other exception is
recorded with its stack trace and ``error.type`` set to its qualified class name.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

__all__ = ["ThirdParty", "third_party"]

F = TypeVar("F", bound=Callable[..., Any])
_TRACER = "breadcrumbs.sdk.thirdparty"


def is_timeout(exc: BaseException) -> bool:
    """Builtin timeouts, and the many library ones named ``...Timeout...``."""
    return isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()


class ThirdParty:
    def __init__(
        self,
        peer_service: str,
        operation: str = "call",
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        timeout: float | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        suppress_http_instrumentation: bool = True,
    ) -> None:
        self.peer_service = peer_service
        self.operation = operation
        self.timeout = timeout
        self.suppress = suppress_http_instrumentation
        attrs: dict[str, AttributeValue] = {"peer.service": peer_service}
        if server_address is not None:
            attrs["server.address"] = server_address
        if server_port is not None:
            attrs["server.port"] = server_port
        if timeout is not None:
            attrs["breadcrumbs.client.timeout_ms"] = round(timeout * 1000)
        attrs.update(attributes or {})
        self.attributes = attrs
        self._open: contextvars.ContextVar[tuple[tuple[Any, ...], ...]] = contextvars.ContextVar(
            f"third-party-{id(self)}", default=()
        )

    @property
    def span_name(self) -> str:
        return f"{self.peer_service} {self.operation}"

    # -- the span ---------------------------------------------------------------------
    def _begin(self) -> tuple[Span, AbstractContextManager[Span], object | None]:
        tracer = trace.get_tracer(_TRACER)
        cm = trace.use_span(
            tracer.start_span(self.span_name, kind=SpanKind.CLIENT, attributes=self.attributes),
            end_on_exit=True,
            record_exception=False,
            set_status_on_exception=False,
        )
        span = cm.__enter__()
        token = None
        if self.suppress:
            token = otel_context.attach(
                otel_context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True)
            )
        return span, cm, token

    def _end(
        self,
        span: Span,
        cm: AbstractContextManager[Span],
        token: object | None,
        exc: BaseException | None,
    ) -> None:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        if exc is not None:
            record(span, exc, self.timeout)
        cm.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    # -- context managers -------------------------------------------------------------
    def __enter__(self) -> Span:
        span, cm, token = self._begin()
        self._open.set((*self._open.get(), (span, cm, token, None)))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._open.get()
        span, cm, token, _ = stack[-1]
        self._open.set(stack[:-1])
        self._end(span, cm, token, exc)

    async def __aenter__(self) -> Span:
        span, cm, token = self._begin()
        deadline = asyncio.timeout(self.timeout)
        await deadline.__aenter__()
        self._open.set((*self._open.get(), (span, cm, token, deadline)))
        return span

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = self._open.get()
        span, cm, token, deadline = stack[-1]
        self._open.set(stack[:-1])
        try:
            # Turns the deadline's CancelledError into TimeoutError (and re-raises it).
            await deadline.__aexit__(exc_type, exc, tb)
        except BaseException as raised:
            self._end(span, cm, token, raised)
            raise
        self._end(span, cm, token, exc)

    # -- decorator --------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await fn(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return cast(F, wrapper)


def record(span: Span, exc: BaseException, timeout: float | None) -> None:
    """Mark a client span failed: exception event, error.type, ERROR status."""
    span.record_exception(exc)
    if is_timeout(exc):
        span.set_attribute("error.type", "timeout")
        limit = f" after {timeout:g}s" if timeout is not None else ""
        span.set_status(Status(StatusCode.ERROR, f"timeout{limit}"))
    else:
        span.set_attribute("error.type", f"{type(exc).__module__}.{type(exc).__qualname__}")
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def third_party(
    peer_service: str,
    operation: str = "call",
    *,
    server_address: str | None = None,
    server_port: int | None = None,
    timeout: float | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    suppress_http_instrumentation: bool = True,
) -> ThirdParty:
    """A reusable client-span recipe for one uninstrumented dependency and operation."""
    return ThirdParty(
        peer_service,
        operation,
        server_address=server_address,
        server_port=server_port,
        timeout=timeout,
        attributes=attributes,
        suppress_http_instrumentation=suppress_http_instrumentation,
    )
