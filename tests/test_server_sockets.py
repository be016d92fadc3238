"""The listening sockets the server makes: accepted connections must not wait on Nagle."""

from __future__ import annotations

import asyncio
import socket

import pytest

from breadcrumbs.server import _bind


async def test_accepted_connections_have_tcp_nodelay() -> None:
    listener = _bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, timeout=10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_a_busy_port_is_a_clear_error() -> None:
    first = _bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            _bind("127.0.0.1", port).close()
    finally:
        first.close()
