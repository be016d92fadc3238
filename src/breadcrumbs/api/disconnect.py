"""Cancel a query request's handler when its client goes away.

A cancelled handler's store read is interrupted (``store.threads``) instead of running on for
no one: a user who gives up on a slow search, or a dashboard refreshing, frees the reader at
once. Only GET and HEAD requests are watched: they have no body for the app to read, so
listening for ``http.disconnect`` meanwhile takes nothing from it.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_WATCHED = frozenset({"GET", "HEAD"})


class CancelOnDisconnect:
    """ASGI middleware: runs the app in a task and cancels it on ``http.disconnect``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WATCHED:
            await self.app(scope, receive, send)
            return
        request: Message | None = await receive()  # a GET's empty body, handed on below
        if request is None or request["type"] == "http.disconnect":
            return
        gone = asyncio.Event()

        async def app_receive() -> Message:
            nonlocal request
            if request is not None:
                message, request = request, None
                return message
            await gone.wait()
            return {"type": "http.disconnect"}

        handler = asyncio.ensure_future(self.app(scope, app_receive, send))

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            handler.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await handler
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not gone.is_set() or (current is not None and current.cancelling()):
                raise  # this request itself is being cancelled (shutdown)
        finally:
            watcher.cancel()
