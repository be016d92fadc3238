"""Helpers every HTTP API adapter shares: orjson responses, query pairs, and turning our
error classes into responses (status codes always come from ``errors.http_status``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from breadcrumbs.errors import BreadcrumbsError, http_status, retry_after
from breadcrumbs.query.params import Params

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[int, str], Response]


class JSONResponse(Response):
    """JSON via orjson (non-str keys allowed, numpy-free)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def text_error(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status)


def query_pairs(request: Request) -> Params:
    """Every (name, value) of the query string, repeats kept."""
    return request.query_params.multi_items()


def now_ns() -> int:
    return time.time_ns()


def error_message(error: BaseException) -> tuple[int, str]:
    """(HTTP status, message for the client) for any exception."""
    status = http_status(error)
    if isinstance(error, BreadcrumbsError):
        return status, error.message
    log.exception("query API failure", exc_info=error)
    return status, "internal error"


def handle_errors(render: ErrorRenderer) -> Callable[[Endpoint], Endpoint]:
    """Wrap an endpoint so every exception becomes ``render(status, message)``."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as error:  # every failure becomes a response, never a crash
                status, message = error_message(error)
                response = render(status, message)
                seconds = retry_after(error)
                if seconds is not None:
                    response.headers["Retry-After"] = str(seconds)
                return response

        wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
        return wrapped

    return wrap


def json_error(status: int, message: str) -> Response:
    """The ``/api/x/`` error body: ``{"error": "..."}``."""
    return json_response({"error": message}, status)
