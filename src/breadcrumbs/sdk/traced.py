"""`traced`: one span around a function (sync or async) or a block of code.

    @traced                      # span "package.module.function"
    def f(): ...

    @traced("checkout", attributes={"cart.items": 3})
    async def g(): ...

    with traced("load menu") as span:
        span.set_attribute("menu.items", 12)

An exception leaving the span is recorded as an ``exception`` event (type, message,
stack trace), sets the span status to ERROR, and propagates unchanged.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

__all__ = ["Traced", "traced"]

F = TypeVar("F", bound=Callable[..., Any])


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


class Traced:
    """A span recipe: a decorator and a (re-entrant) context manager at once."""

    def __init__(
        self,
        name: str | None = None,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        tracer_name: str | None = None,
    ) -> None:
        self.name = name
        self.attributes = dict(attributes or {})
        self.kind = kind
        self.tracer_name = tracer_name
        # Each `with` gets its own span; a stack per context keeps nesting and tasks apart.
        self._open: contextvars.ContextVar[tuple[AbstractContextManager[Span], ...]] = (
            contextvars.ContextVar(f"traced-{id(self)}", default=())
        )

    def _start(self, name: str, scope: str) -> AbstractContextManager[Span]:
        tracer = trace.get_tracer(self.tracer_name or scope)
        return tracer.start_as_current_span(
            name,
            kind=self.kind,
            attributes=self.attributes,
            record_exception=True,
            set_status_on_exception=True,
        )

    def __enter__(self) -> Span:
        if self.name is not None:
            name, scope = self.name, _caller_module(2)
        else:
            name, scope = _caller_name(2), _caller_module(2)
        cm = self._start(name, scope)
        span = cm.__enter__()
        self._open.set((*self._open.get(), cm))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack = self._open.get()
        cm = stack[-1]
        self._open.set(stack[:-1])
        return cm.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        name = self.name or _qualified(fn)
        scope = fn.__module__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._start(name, scope):
                    return await fn(*args, **kwargs)

            return cast(F, async_wrapper)

        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError("traced does not wrap generators: trace the loop that consumes them")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._start(name, scope):
                return fn(*args, **kwargs)

        return cast(F, wrapper)


def _caller_module(depth: int) -> str:
    frame = sys._getframe(depth)
    return str(frame.f_globals.get("__name__", "__main__"))


def _caller_name(depth: int) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_globals.get('__name__', '__main__')}.{frame.f_code.co_qualname}"


@overload
def traced(fn: F, /) -> F: ...


@overload
def traced(
    name: str | None = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    tracer_name: str | None = None,
) -> Traced: ...


def traced(
    fn_or_name: Callable[..., Any] | str | None = None,
    /,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    tracer_name: str | None = None,
) -> Any:
    """Decorate a function (bare or with arguments) or open a span with ``with``."""
    if callable(fn_or_name):
        return Traced()(fn_or_name)
    return Traced(fn_or_name, attributes=attributes, kind=kind, tracer_name=tracer_name)
