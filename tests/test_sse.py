"""Server-sent events (bare.sse) and the test client's streamed responses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bare import Bare, Request
from bare._testing_stream import _Events, _Lines
from bare.responses import StreamingResponse
from bare.sse import (
    EventSourceResponse,
    ServerSentEvent,
    close_streams,
    encode_event,
    last_event_id,
)
from bare.testing import AsyncTestClient, ParsedEvent, TestClient
from bare.types import Receive, Scope, Send
from servers import uvicorn

# A net for waits on threads; a healthy test never comes near it.
NET = 10


def serve(make: Any, **options: Any) -> Bare:
    """An app whose GET /events answers EventSourceResponse(make(request), **options)."""
    app = Bare()

    @app.get("/events")
    async def events(request: Request) -> EventSourceResponse:
        return EventSourceResponse(make(request), **options)

    return app


# -- the format ---------------------------------------------------------------------


def test_str_data_is_one_data_line_per_line_whatever_the_line_ends() -> None:
    assert encode_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event("") == b"data: \n\n"
    assert encode_event("x\n") == b"data: x\ndata: \n\n"
    assert encode_event(" lead") == b"data:  lead\n\n"  # the reader strips one space only


def test_other_data_is_compact_json() -> None:
    assert encode_event({"data": {"a": [1, 2]}}) == b'data: {"a":[1,2]}\n\n'
    assert encode_event(ServerSentEvent(["x\ny", "é"])) == b'data: ["x\\ny","\xc3\xa9"]\n\n'
    assert encode_event(ServerSentEvent(0)) == b"data: 0\n\n"


def test_every_field_in_order() -> None:
    event = ServerSentEvent("hi", event="greet", id="7", retry=1500, comment="note")
    assert event.encode() == b": note\nevent: greet\nid: 7\nretry: 1500\ndata: hi\n\n"
    assert encode_event({"event": "e", "id": "", "retry": 0}) == b"event: e\nid: \nretry: 0\n\n"


def test_comments_cannot_break_out_of_their_lines() -> None:
    event = ServerSentEvent(comment="one\ndata: injected\r\n\r\nevent: x")
    assert event.encode() == b": one\n: data: injected\n:\n: event: x\n\n"
    parsed = _parse(event.encode())
    assert parsed == []


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\0b", "\n", "x\n\ndata: y"])
@pytest.mark.parametrize("field", ["event", "id"])
def test_event_and_id_refuse_line_breaks_and_nul(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"the {field} of an event cannot hold"):
        ServerSentEvent("x", **{field: bad})
    with pytest.raises(ValueError):
        encode_event({"data": "x", field: bad})


@pytest.mark.parametrize("field", ["event", "id", "comment"])
def test_text_fields_refuse_other_types(field: str) -> None:
    with pytest.raises(TypeError):
        ServerSentEvent("x", **{field: 5})


@pytest.mark.parametrize("bad", [-1, True, False, 1.5, "10", "1\n"])
def test_retry_is_a_non_negative_int(bad: Any) -> None:
    with pytest.raises(ValueError, match="retry is a non-negative int"):
        ServerSentEvent(retry=bad)


def test_items_of_other_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="'extra'"):
        encode_event({"data": "x", "extra": 1})
    for item in (b"bytes", 5, None, ["x"]):
        with pytest.raises(TypeError, match="an event stream yields"):
            encode_event(item)


@pytest.mark.parametrize("option", ["ping", "send_timeout"])
@pytest.mark.parametrize("bad", [0, -1, True, "5", float("nan")])
def test_bad_timings_are_refused_when_built(option: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=f"{option} is a number of seconds"):
        EventSourceResponse([], **{option: bad})


# -- the response ------------------------------------------------------------------


def test_headers_and_events_through_the_client() -> None:
    sent = ["plain", {"data": {"n": 1}, "event": "json", "id": "1"}, ServerSentEvent("a\nb")]
    client = TestClient(serve(lambda request: iter(sent)))
    response = client.get("/events")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers
    assert _parse(response.content) == [
        ParsedEvent("plain"),
        ParsedEvent('{"n":1}', "json", "1"),
        ParsedEvent("a\nb"),
    ]


def test_given_headers_replace_the_defaults() -> None:
    response = EventSourceResponse([], headers={"cache-control": "no-cache"})
    assert response.headers.getlist("cache-control") == ["no-cache"]
    assert response.headers["x-accel-buffering"] == "no"


def test_head_sends_no_events_and_closes_the_iterator() -> None:
    async def stream() -> AsyncIterator[str]:
        yield "never sent"

    generator = stream()
    app = Bare()

    @app.route("/events", methods=["GET", "HEAD"])
    async def events(request: Request) -> EventSourceResponse:
        return EventSourceResponse(generator)

    response = TestClient(app).head("/events")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert generator.ag_frame is None  # closed


def test_a_bad_item_fails_the_stream() -> None:
    client = TestClient(serve(lambda request: iter(["ok", 42])))
    with pytest.raises(TypeError, match="not int"):
        client.get("/events")


def test_a_raw_asgi_app_can_send_it() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(["one", "two"], ping=None)(scope, receive, send)

    with TestClient(raw).stream("GET", "/") as response:
        assert [event.data for event in response.iter_events()] == ["one", "two"]


# -- streaming through the test client ----------------------------------------------


def test_events_are_readable_before_the_next_one_is_produced() -> None:
    gate = threading.Semaphore(0)
    produced: list[int] = []

    def stream(request: Request) -> Iterator[ServerSentEvent]:
        for n in range(3):
            gate.acquire(timeout=NET)
            produced.append(n)
            yield ServerSentEvent(n, id=str(n))

    client = TestClient(serve(stream, ping=None))
    with client.stream("GET", "/events") as response:
        assert response.status_code == 200
        events = response.iter_events()
        for n in range(3):
            gate.release()
            assert next(events) == ParsedEvent(str(n), id=str(n))
            assert produced == list(range(n + 1))
        assert list(events) == []


def test_leaving_the_block_disconnects_and_the_generator_finally_runs() -> None:
    closed: list[str] = []

    async def endless(request: Request) -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()  # nothing more, ever
            yield "never"
        finally:
            closed.append("finally")

    with TestClient(serve(endless, ping=None)) as client:
        with client.stream("GET", "/events") as response:
            assert next(response.iter_events()).data == "first"
            assert closed == []
        assert closed == ["finally"]
        assert response.is_closed


def test_an_endless_sync_iterator_is_closed_when_the_client_leaves() -> None:
    closed = threading.Event()

    def endless(request: Request) -> Iterator[str]:
        try:
            n = 0
            while True:
                n += 1
                yield str(n)
        finally:
            closed.set()

    with TestClient(serve(endless, ping=None)).stream("GET", "/events") as response:
        events = response.iter_events()
        assert [next(events).data for _ in range(5)] == ["1", "2", "3", "4", "5"]
    # The close may run in the stream thread, after a next() in flight returns.
    assert closed.wait(NET)


def test_pings_are_comments_sent_on_the_interval() -> None:
    async def quiet(request: Request) -> AsyncIterator[str]:
        yield "hello"
        await asyncio.Event().wait()
        yield "never"

    with TestClient(serve(quiet, ping=0.01)).stream("GET", "/events") as response:
        lines = response.iter_lines()
        assert next(lines) == "data: hello"
        assert next(lines) == ""
        assert next(lines) == ": ping"  # waits until the first ping comes
        assert next(lines) == ""
        assert next(lines) == ": ping"


def test_no_pings_when_ping_is_none() -> None:
    def stream(request: Request) -> Iterator[str]:
        yield "a"
        yield "b"

    with TestClient(serve(stream, ping=None)).stream("GET", "/events") as response:
        assert response.read() == b"data: a\n\ndata: b\n\n"


def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout() -> None:
    closed = threading.Event()

    async def firehose(request: Request) -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 100
        finally:
            closed.set()

    client = TestClient(serve(firehose, ping=None, send_timeout=0.01))
    # The client reads nothing: its buffer fills, sends stall, and the app gives up,
    # leaving the response unfinished (a server closes such a connection).
    with (
        pytest.raises(RuntimeError, match="without completing its response"),
        client.stream("GET", "/events"),
    ):
        assert closed.wait(NET)


def test_close_streams_ends_open_streams_and_completes_the_response() -> None:
    closed: list[str] = []
    started = threading.Event()

    async def endless(request: Request) -> AsyncIterator[str]:
        try:
            yield "first"
            started.set()
            await asyncio.Event().wait()
            yield "never"
        finally:
            closed.append("finally")

    with TestClient(serve(endless, ping=None)).stream("GET", "/events") as response:
        events = response.iter_events()
        assert next(events).data == "first"
        assert started.wait(NET)
        assert close_streams() == 1
        assert list(events) == []  # the body ends: the response was completed
        assert closed == ["finally"]
    assert close_streams() == 0


def test_close_streams_before_the_first_event_still_answers() -> None:
    async def silent(request: Request) -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield "never"

    async def run() -> tuple[int, bytes]:
        client = AsyncTestClient(serve(silent, ping=None))
        async with client.stream("GET", "/events") as response:
            assert close_streams() == 1
            return response.status_code, await response.aread()

    assert asyncio.run(run()) == (200, b"")


def test_errors_of_the_generator_reach_the_test() -> None:
    async def broken(request: Request) -> AsyncIterator[str]:
        yield "one"
        raise KeyError("boom")

    with (
        pytest.raises(KeyError, match="boom"),
        TestClient(serve(broken, ping=None)).stream("GET", "/events") as response,
    ):
        list(response.iter_events())


def test_last_event_id() -> None:
    def stream(request: Request) -> Iterator[str]:
        yield repr(last_event_id(request))

    client = TestClient(serve(stream, ping=None))
    assert _parse(client.get("/events", headers={"last-event-id": "41"}).content) == [
        ParsedEvent("'41'")
    ]
    assert _parse(client.get("/events").content) == [ParsedEvent("None")]
    assert _parse(client.get("/events", headers={"last-event-id": ""}).content) == [
        ParsedEvent("None")
    ]
    scope = {"headers": [(b"last-event-id", b"a\0b")]}
    assert last_event_id(scope) is None
    assert last_event_id({"headers": [(b"last-event-id", b"\xff7")]}) == "\ufffd7"


# -- the client's stream reading -----------------------------------------------------


def test_stream_reads_bytes_lines_and_plain_streaming_responses() -> None:
    app = Bare()

    @app.get("/plain")
    async def plain(request: Request) -> StreamingResponse:
        return StreamingResponse(iter([b"one\r", b"\ntwo\rthr", b"ee\n", b"four"]))

    client = TestClient(app)
    with client.stream("GET", "/plain") as response:
        assert list(response.iter_bytes()) == [b"one\r", b"\ntwo\rthr", b"ee\n", b"four"]
    with client.stream("GET", "/plain") as response:
        assert list(response.iter_lines()) == ["one", "two", "three", "four"]


def test_a_plain_endless_stream_is_left_without_hanging() -> None:
    closed: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick\n"
        finally:
            closed.append("finally")

    app = Bare()

    @app.get("/ticks")
    async def ticks(request: Request) -> StreamingResponse:
        return StreamingResponse(endless())

    with TestClient(app).stream("GET", "/ticks") as response:
        lines = response.iter_lines()
        assert [next(lines) for _ in range(3)] == ["tick"] * 3
    assert closed == ["finally"]


def test_the_line_splitter_handles_every_line_end_across_chunks() -> None:
    lines = _Lines("utf-8")
    got = []
    for chunk in (b"a\r", b"\nb\r", b"c\n\n", b"\xc3", b"\xa9\r\n", b"tail"):
        got += lines.feed(chunk)
    got += lines.end()
    assert got == ["a", "b", "c", "", "é", "tail"]


def test_the_event_parser_follows_the_standard() -> None:
    body = (
        b": comment\n"
        b"data\n"  # a field with no colon: empty value
        b"data:x\n"
        b"\n"
        b"event: lonely\n"  # no data: nothing dispatched
        b"\n"
        b"id: a\0b\n"  # an id with NUL is ignored
        b"retry: 1x\n"  # not all digits: ignored
        b"unknown: y\n"
        b"data: z\n"
        b"\n"
        b"retry: 30\n"
        b"id: 9\n"
        b"data: w\n"
        b"\n"
        b"data: unterminated"
    )
    assert _parse(body) == [ParsedEvent("\nx"), ParsedEvent("z"), ParsedEvent("w", None, "9", 30)]


def test_a_long_hostile_line_is_read_in_linear_time() -> None:
    lines = _Lines("utf-8")
    for _ in range(20000):
        assert lines.feed(b"x" * 50) == []
    assert lines.feed(b"\n") == ["x" * 1_000_000]


def test_the_async_client_streams_too() -> None:
    async def stream(request: Request) -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent("one", event="a")
        yield ServerSentEvent("two", event="b")

    async def run() -> list[ParsedEvent]:
        client = AsyncTestClient(serve(stream, ping=None))
        async with client.stream("GET", "/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            return [event async for event in response.aiter_events()]

    assert asyncio.run(run()) == [ParsedEvent("one", "a"), ParsedEvent("two", "b")]


def test_existing_test_client_calls_still_read_whole_bodies() -> None:
    client = TestClient(serve(lambda request: iter(["x"]), ping=None))
    assert client.get("/events").text == "data: x\n\n"


def _parse(body: bytes) -> list[ParsedEvent]:
    lines, events = _Lines("utf-8"), _Events()
    parsed = [events.feed(line) for line in [*lines.feed(body), *lines.end()]]
    return [event for event in parsed if event is not None]


# -- a real server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sse_server() -> Iterator[str]:
    yield from uvicorn("apps.sse_live:app")


def test_real_server_streams_events_one_by_one(sse_server: str) -> None:
    base = f"http://{sse_server}"
    with httpx.Client(base_url=base, timeout=NET) as client:
        headers = {"last-event-id": "10"}
        with client.stream("GET", "/events", headers=headers) as response:
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.headers["cache-control"] == "no-store"
            lines = response.iter_lines()
            for n in (11, 12):
                client.get("/release").raise_for_status()  # the app makes event n only now
                assert next(lines) == "event: tick"
                assert next(lines) == f"id: {n}"
                assert next(lines) == f'data: {{"n":{n}}}'
                assert next(lines) == ""
            # Every open stream (this one and another) ends when close_streams() is called.
            with (
                httpx.Client(base_url=base, timeout=NET) as other,
                other.stream("GET", "/events") as second,
            ):
                assert second.status_code == 200
                assert client.get("/shutdown").text == "2"
                assert second.read() == b""
                assert list(lines) == []
        # Both generators' finally blocks ran.
        assert client.get("/closed/2").text == "closed"


def test_real_server_runs_the_finally_when_the_client_leaves(sse_server: str) -> None:
    with httpx.Client(base_url=f"http://{sse_server}", timeout=NET) as client:
        before = int(client.get("/closes").text)
        with client.stream("GET", "/events", headers={"last-event-id": "x\tjunk"}) as response:
            client.get("/release").raise_for_status()
            lines = response.iter_lines()
            assert [next(lines) for _ in range(3)] == ["event: tick", "id: 1", 'data: {"n":1}']
            assert int(client.get("/closes").text) == before  # still streaming
        # httpx closed the connection: uvicorn tells the app, whose generator finally runs.
        assert client.get(f"/closed/{before + 1}").text == "closed"


def test_a_stream_whose_client_left_always_ends() -> None:
    # Once its client has gone, a server's send returns at once: the cancellation that
    # ends the producer then often came as a send ended, and asyncio.wait_for (the
    # send_timeout) lost it on Python 3.10 and 3.11, leaving the stream running for
    # ever. Every request must end, wherever the disconnect lands.
    from raw_asgi import http_scope

    async def endless(request: Request) -> AsyncIterator[str]:
        while True:
            await asyncio.sleep(0)  # an event source waits for something between events
            yield "x"

    app = serve(endless, ping=None, send_timeout=30)

    def disconnect_after(turns: int) -> Receive:
        async def receive() -> dict[str, Any]:
            for _ in range(turns):
                await asyncio.sleep(0)
            return {"type": "http.disconnect"}

        return receive

    async def main() -> None:
        for trial in range(100):
            receive = disconnect_after(trial % 7)

            async def send(message: dict[str, Any]) -> None:
                pass

            await asyncio.wait_for(app(http_scope("/events"), receive, send), NET)

    asyncio.run(main())
