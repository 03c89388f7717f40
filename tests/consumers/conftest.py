from __future__ import annotations

import pytest

from .helpers import Server, make_server


@pytest.fixture
async def servers():
    """A factory of echo servers; every session they hold is shut down afterwards."""
    made: list[Server] = []

    def factory(**overrides) -> Server:
        server = make_server(overrides)
        made.append(server)
        return server

    yield factory
    for server in made:
        await server.engine.shutdown()


@pytest.fixture
async def server(servers) -> Server:
    return servers()
