"""`kohtaanto serve --workers N`: the listener handed to the workers keeps TCP_NODELAY."""

from __future__ import annotations

import asyncio
import socket

import pytest

from service.server import tcp_listener

pytestmark = pytest.mark.integration


def test_connections_accepted_by_asyncio_get_tcp_nodelay() -> None:
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn binds it
    bound.bind(("127.0.0.1", 0))
    listener = tcp_listener(bound)
    assert listener.proto == socket.IPPROTO_TCP
    port = listener.getsockname()[1]
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(accept_one())
    assert seen and seen[0] != 0


def test_a_unix_socket_is_left_as_it_is() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert tcp_listener(left) is left
    finally:
        left.close()
        right.close()
