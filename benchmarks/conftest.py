"""Makes `_reference` and `_driver` importable from the benchmarks whatever pytest's import
mode, and gives each benchmark module one event loop and its started apps."""

import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _driver import ASGIApp, Client, new_loop


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The one event loop of the module."""
    loop = new_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def serve(loop: asyncio.AbstractEventLoop) -> Iterator[Callable[..., Client]]:
    """`serve(key, make_app)`: the started client of that app, made once per module."""
    clients: dict[str, Client] = {}

    def get(
        key: str, make_app: Callable[[], ASGIApp], template: dict[str, Any] | None = None
    ) -> Client:
        if key not in clients:
            client = Client(make_app(), loop, template)
            client.start()
            clients[key] = client
        return clients[key]

    yield get
    for client in clients.values():
        client.stop()
