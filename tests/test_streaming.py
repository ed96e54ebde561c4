"""Sync iterators behind a StreamingResponse: closed safely when the client leaves while
their `next()` runs, and served by a pool of threads of their own, so open streams never
starve the sync handlers. Every wait here is on an event; the timeouts only turn a hang
into a failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import bare.responses
from bare import Bare
from bare._concurrency import SyncIterator
from bare.responses import (
    FileResponse,
    Response,
    StreamingResponse,
    set_stream_threads,
    stream_threads,
)
from raw_asgi import RawClient, http_scope

GUARD = 10  # seconds: only ever reached when the code under test is broken

Message = dict[str, Any]


def scope(path: str = "/", method: str = "GET", spec: str = "2.3") -> dict[str, Any]:
    return http_scope(path, method, spec_version=spec)  # 2.4 changes how streams send


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.ERROR)
    return lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- closing a sync iterator whose next() is running ------------------------------------


def test_leaving_during_next_closes_the_generator_in_its_thread_afterwards(
    errors: Callable[[], list[logging.LogRecord]],
) -> None:
    release = threading.Event()
    finished = threading.Event()
    seen: dict[str, Any] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        client = RawClient()

        def numbers() -> Iterator[bytes]:
            try:
                yield b"first"
                loop.call_soon_threadsafe(client.leave.set)  # it leaves during this next()
                seen["released"] = release.wait(GUARD)
                yield b"produced after the client left"
                yield b"never asked for"
            finally:
                seen["finally thread"] = threading.current_thread().name
                finished.set()

        await StreamingResponse(numbers())(scope(), client.receive, client.send)  # no ValueError
        # The response is done though next() still blocks: it did not wait for it.
        assert not finished.is_set()
        release.set()
        assert await asyncio.to_thread(finished.wait, GUARD), "the generator was never closed"
        seen["bodies"] = client.bodies()

    asyncio.run(main())
    assert seen["released"] is True
    assert seen["bodies"] == [b"first"]
    assert seen["finally thread"].startswith("bare-stream")
    assert errors() == []


def test_leaving_between_chunks_closes_the_generator_at_once() -> None:
    closed = []

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"tick"
        finally:
            closed.append(threading.current_thread().name)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        if len(sent) == 3:
            raise ConnectionResetError("client gone")  # an ASGI 2.4 server
        sent.append(message)

    async def receive() -> Message:  # pragma: no cover - a 2.4 stream does not listen
        raise AssertionError("not called")

    asyncio.run(StreamingResponse(endless())(scope(spec="2.4"), receive, send))
    assert len(sent) == 3
    assert len(closed) == 1 and closed[0].startswith("bare-stream")


def test_an_error_in_a_late_close_is_logged_not_raised() -> None:
    release = threading.Event()
    logged = threading.Event()
    records: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            logged.set()

    handler = Catch(logging.ERROR)
    logging.getLogger("bare.error").addHandler(handler)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        client = RawClient()

        def broken() -> Iterator[bytes]:
            try:
                yield b"first"
                loop.call_soon_threadsafe(client.leave.set)
                release.wait(GUARD)
                yield b"late"
            finally:
                raise RuntimeError("cleanup failed")

        await StreamingResponse(broken())(scope(), client.receive, client.send)
        release.set()
        assert await asyncio.to_thread(logged.wait, GUARD)

    try:
        asyncio.run(main())
    finally:
        logging.getLogger("bare.error").removeHandler(handler)
    assert "after its client left" in records[0].getMessage()
    assert records[0].exc_info is not None and "cleanup failed" in str(records[0].exc_info[1])


def test_no_next_starts_once_closing_began() -> None:
    calls = []

    def counting() -> Iterator[int]:
        calls.append(1)
        yield 1

    async def main() -> None:
        source = SyncIterator(counting())
        await source.aclose()
        await source.aclose()  # twice is fine
        assert await source.next() is bare.responses.DONE

    asyncio.run(main())
    assert calls == []


def test_an_iterable_with_close_is_closed_too() -> None:
    class Body:
        closed = False

        def __iter__(self) -> Iterator[bytes]:
            return iter([b"a", b"b"])

        def close(self) -> None:
            Body.closed = True

    client = RawClient()
    client.run(StreamingResponse(Body()), scope())
    assert client.bodies() == [b"a", b"b", b""] and Body.closed


def test_head_closes_a_sync_generator_without_running_it() -> None:
    closed = []

    def gen() -> Iterator[bytes]:
        try:
            yield b"never sent"
        finally:
            closed.append(True)

    iterator = gen()
    next(iterator)
    client = RawClient()
    client.run(StreamingResponse(iterator), scope(method="HEAD"))
    assert client.bodies() == [b""] and closed == [True]


# -- the stream pool ----------------------------------------------------------------------


@pytest.fixture
def stream_limit() -> Iterator[Callable[[int], None]]:
    previous = stream_threads()
    yield lambda limit: set_stream_threads(limit) and None
    set_stream_threads(previous)


def test_sync_handlers_answer_while_every_stream_thread_is_blocked(
    stream_limit: Callable[[int], None],
) -> None:
    threads = 2
    stream_limit(threads)
    release = threading.Event()
    released_by_the_handler: list[bool] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # The handlers' pool no bigger than the streams': were they shared, the streams
        # would hold every thread and the handler below could never run.
        loop.set_default_executor(ThreadPoolExecutor(threads))
        entered = asyncio.Semaphore(0)
        app = Bare()

        @app.get("/events")
        def events(request: Any) -> StreamingResponse:
            def stream() -> Iterator[bytes]:
                loop.call_soon_threadsafe(entered.release)
                released_by_the_handler.append(release.wait(GUARD))
                yield b"event"

            return StreamingResponse(stream())

        @app.get("/ping")
        def ping(request: Any) -> str:
            release.set()
            return "pong"

        streams = []
        for _ in range(threads):
            client = RawClient()
            task = asyncio.ensure_future(app(scope("/events"), client.receive, client.send))
            streams.append((task, client))
        for _ in range(threads):
            await entered.acquire()  # every stream thread is now blocked in next()
        client = RawClient()
        await app(scope("/ping"), client.receive, client.send)
        assert client.bodies() == [b"pong"]
        for task, stream_client in streams:
            await task
            assert stream_client.bodies() == [b"event", b""]

    asyncio.run(main())
    assert released_by_the_handler == [True] * threads


def test_more_streams_than_threads_wait_their_turn(stream_limit: Callable[[int], None]) -> None:
    stream_limit(1)
    names: set[str] = set()

    def chunks(tag: bytes) -> Iterator[bytes]:
        for i in range(3):
            names.add(threading.current_thread().name)
            yield tag + str(i).encode()

    async def main() -> list[list[bytes]]:
        runs = []
        for tag in (b"a", b"b", b"c"):
            client = RawClient()
            runs.append(
                (StreamingResponse(chunks(tag))(scope(), client.receive, client.send), client)
            )
        await asyncio.gather(*(run for run, _ in runs))
        return [client.bodies() for _, client in runs]

    results = asyncio.run(main())
    assert results == [[t + b"0", t + b"1", t + b"2", b""] for t in (b"a", b"b", b"c")]
    assert len(names) == 1 and next(iter(names)).startswith("bare-stream")


@pytest.mark.parametrize("limit", [0, -1, 1.5, "4", None, True])
def test_the_stream_thread_limit_is_checked(limit: Any) -> None:
    before = stream_threads()
    with pytest.raises(ValueError, match=f"an int of at least 1, not {limit!r}"):
        set_stream_threads(limit)
    assert stream_threads() == before


def test_set_stream_threads_gives_the_previous_limit(stream_limit: Callable[[int], None]) -> None:
    stream_limit(3)
    assert set_stream_threads(5) == 3
    assert stream_threads() == 5


class _Watched:
    """A file that notes the thread of each read in `seen`."""

    def __init__(self, file: Any, seen: list[tuple[str, str]]) -> None:
        self.file, self.seen = file, seen

    def read(self, size: int = -1) -> bytes:
        self.seen.append(("read", threading.current_thread().name))
        data: bytes = self.file.read(size)
        return data

    def seek(self, *args: Any) -> int:
        return int(self.file.seek(*args))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> _Watched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def test_file_responses_do_their_io_in_the_stream_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    content = b"x" * 200_000  # several reads
    path.write_bytes(content)
    seen: list[tuple[str, str]] = []
    real_stat, real_open = os.stat, open

    def stat(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if os.fspath(target) == str(path):
            seen.append(("stat", threading.current_thread().name))
        return real_stat(target, *args, **kwargs)

    def watched_open(target: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(("open", threading.current_thread().name))
        return _Watched(real_open(target, *args, **kwargs), seen)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(bare.responses, "open", watched_open, raising=False)
    client = RawClient()
    client.run(FileResponse(path), scope())
    assert b"".join(client.bodies()) == content
    assert [kind for kind, _ in seen[:3]] == ["stat", "open", "read"]
    assert len(seen) > 3 and all(thread.startswith("bare-stream") for _, thread in seen)


# -- a start that raised is never followed by another -----------------------------------


async def refusing_send(message: Message) -> None:
    raise OSError("the server refused the start")


async def no_receive() -> Message:  # pragma: no cover - never reached
    await asyncio.Event().wait()
    raise AssertionError


async def agen() -> AsyncIterator[bytes]:
    yield b"x"


@pytest.mark.parametrize(
    "make",
    [
        lambda path: Response("x"),
        lambda path: StreamingResponse(agen()),
        lambda path: StreamingResponse(iter([b"x"])),
        lambda path: FileResponse(path),
        lambda path: FileResponse(path, status=204),
    ],
    ids=["response", "async-stream", "sync-stream", "file", "file-204"],
)
def test_started_is_set_before_the_start_is_sent(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    for spec in ("2.3", "2.4"):
        response = make(path)
        # A stream on ASGI 2.4 takes an OSError from send for a client gone: no raise.
        with contextlib.suppress(OSError):
            asyncio.run(response(scope(spec=spec), no_receive, refusing_send))
        assert response.started is True


def test_head_streams_set_started_before_sending() -> None:
    response = StreamingResponse(iter([b"x"]))
    with pytest.raises(OSError):
        asyncio.run(response(scope(method="HEAD"), no_receive, refusing_send))
    assert response.started is True
