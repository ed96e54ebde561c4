"""bare.broadcast: one suite run against both backends, memory:// and a real Redis.

Nothing here sleeps to decide an outcome: a test waits for the events it expects (with
`NET` as a net), and proves that nothing else arrived by publishing a marker last: per
subscriber, order is kept, so the marker comes next or something slipped in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from bare import Bare, Request, WebSocket
from bare.broadcast import (
    Broadcast,
    BroadcastError,
    BroadcastUnavailable,
    Event,
    Subscriber,
    SubscriberOverflow,
)
from bare.testing import TestClient
from redis_server import RedisServer

# A net for every wait: a healthy test never comes near it.
NET = 10.0
MARK = "-- marker --"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def guarded() -> None:
        await asyncio.wait_for(scenario(), 4 * NET)

    asyncio.run(guarded())


async def receive(subscriber: Subscriber) -> Event:
    return await asyncio.wait_for(anext(subscriber), NET)


async def messages(subscriber: Subscriber, count: int) -> list[Any]:
    return [(await receive(subscriber)).message for _ in range(count)]


async def nothing_else(broadcast: Broadcast, *subscribers: Subscriber) -> None:
    """Publish a marker to each subscriber's channel: it must be the next message."""
    for channel in sorted({subscriber.channel for subscriber in subscribers}):
        await broadcast.publish(channel, MARK)
    for subscriber in subscribers:
        assert (await receive(subscriber)).message == MARK


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll a condition on Redis that no event tells about (bounded by `run`'s net)."""
    while not await condition():
        await asyncio.sleep(0.01)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def redis_subscribers(url: str, channel: str) -> int:
    """How many connections Redis has subscribed to `channel` (PUBSUB NUMSUB)."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    """The URL of each backend (Redis: the module's real server)."""
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


# -- messages --------------------------------------------------------------------------


class Colour(str, enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


ROUND_TRIPS: list[tuple[Any, Any]] = [
    ("hello", "hello"),
    ("", ""),
    ("héllo wörld ☃ 𝄞", "héllo wörld ☃ 𝄞"),
    ("line\nbreak\0nul", "line\nbreak\0nul"),
    (b"\x00\xffbytes", b"\x00\xffbytes"),
    (b"", b""),
    (bytearray(b"array"), b"array"),
    (memoryview(b"view"), b"view"),
    ({"a": [1, 2.5, None, True], "b": {"c": "é"}}, {"a": [1, 2.5, None, True], "b": {"c": "é"}}),
    ([1, "two", [3]], [1, "two", [3]]),
    ((1, 2), [1, 2]),  # as JSON: a tuple comes back a list
    (0, 0),
    (-7, -7),
    (2**70, 2**70),
    (1.5, 1.5),
    (True, True),
    (False, False),
    (None, None),
    (Colour.RED, "red"),  # a str subclass comes back a plain str
    (Point(1, 2), {"x": 1, "y": 2}),
    (datetime.date(2024, 5, 17), "2024-05-17"),
    ({1: "int key"}, {"1": "int key"}),
]


def test_every_kind_of_message_comes_back_as_the_same_on_both_backends(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast, broadcast.subscribe("types") as subscriber:
            for message, _ in ROUND_TRIPS:
                await broadcast.publish("types", message)
            for message, expected in ROUND_TRIPS:
                event = await receive(subscriber)
                assert event.channel == "types"
                assert event.message == expected, message
                assert type(event.message) is type(expected), message
            await nothing_else(broadcast, subscriber)

    run(scenario)


def test_several_subscribers_each_get_every_message_in_order(url: str) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url) as broadcast,
            broadcast.subscribe("news") as first,
            broadcast.subscribe("news") as second,
            broadcast.subscribe("news") as third,
        ):
            for n in range(200):
                await broadcast.publish("news", n if n % 2 else f"text {n}")
            expected = [n if n % 2 else f"text {n}" for n in range(200)]
            for subscriber in (first, second, third):
                assert await messages(subscriber, 200) == expected
            await nothing_else(broadcast, first, second, third)

    run(scenario)


def test_next_ready_takes_what_is_queued_without_waiting(url: str) -> None:
    def ready(subscriber: Subscriber) -> Any:
        event = subscriber.next_ready()
        return None if event is None else event.message

    async def scenario() -> None:
        async with (
            Broadcast(url, max_queue=3, on_full="disconnect") as broadcast,
            broadcast.subscribe("ready") as fast,
            broadcast.subscribe("ready") as slow,
        ):
            assert ready(slow) is None  # nothing queued: no wait, no error
            await step(broadcast, fast, ["a", "b", "c"])
            assert (await receive(slow)).message == "a"
            assert [ready(slow), ready(slow), ready(slow)] == ["b", "c", None]
            await step(broadcast, fast, ["d", "e", "f", "g"])  # one past max_queue
            assert ready(slow) is None  # ended: what it had is dropped
            with pytest.raises(SubscriberOverflow):
                await anext(slow)  # the iteration tells how it ended

    run(scenario)


def test_every_subscriber_gets_the_same_event(url: str) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url) as broadcast,
            broadcast.subscribe("shared") as first,
            broadcast.subscribe("shared") as second,
        ):
            await broadcast.publish("shared", {"n": 1})
            one, two = await receive(first), await receive(second)
            assert one == two == Event("shared", {"n": 1})
            assert one is two  # one event per message, whatever the number of subscribers
            with pytest.raises(dataclasses.FrozenInstanceError):
                one.message = "changed"  # type: ignore[misc]

    run(scenario)


def test_channels_do_not_cross_talk(url: str) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url) as broadcast,
            broadcast.subscribe("room:a") as a,
            broadcast.subscribe("room:b") as b,
            broadcast.subscribe("room:a:b") as ab,
        ):
            await broadcast.publish("room:a", "to a")
            await broadcast.publish("room:b", "to b")
            await broadcast.publish("room:a:b", "to a:b")
            await broadcast.publish("room:*", "to no one")  # no patterns: a plain name
            await broadcast.publish("room:c", "to no one either")
            assert await receive(a) == Event("room:a", "to a")
            assert await receive(b) == Event("room:b", "to b")
            assert await receive(ab) == Event("room:a:b", "to a:b")
            await nothing_else(broadcast, a, b, ab)

    run(scenario)


def test_unusual_channel_names_are_kept_apart(url: str) -> None:
    names = ["é", "e\u0301", " ", "a b", "x" * 256, "*", "🙂"]

    async def scenario() -> None:
        async with Broadcast(url) as broadcast:
            subscribers = [broadcast.subscribe(name) for name in names]
            for subscriber in subscribers:
                await subscriber.__aenter__()
            try:
                for name in names:
                    await broadcast.publish(name, name)
                for name, subscriber in zip(names, subscribers):
                    assert await receive(subscriber) == Event(name, name)
                await nothing_else(broadcast, *subscribers)
            finally:
                for subscriber in subscribers:
                    await subscriber.__aexit__(None, None, None)

    run(scenario)


def test_a_subscriber_gets_what_is_published_once_it_entered_and_not_before(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast:
            await broadcast.publish("late", "before anyone listens")
            subscriber = broadcast.subscribe("late")
            await broadcast.publish("late", "before it entered")
            async with subscriber:
                # With Redis too: entering waits for Redis to confirm the subscription.
                await broadcast.publish("late", "after")
                assert (await receive(subscriber)).message == "after"
                await nothing_else(broadcast, subscriber)

    run(scenario)


def test_leaving_the_block_ends_the_iteration_and_the_others_go_on(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast, broadcast.subscribe("leave") as staying:
            async with broadcast.subscribe("leave") as leaving:
                await broadcast.publish("leave", 1)
                assert (await receive(leaving)).message == 1
                await broadcast.publish("leave", 2)  # waiting in its queue when it leaves
            with pytest.raises(StopAsyncIteration):
                await anext(leaving)  # ended, what was waiting dropped
            async for event in leaving:  # an ended subscriber iterates as empty
                raise AssertionError(event)
            await broadcast.publish("leave", 3)
            assert await messages(staying, 3) == [1, 2, 3]
            await nothing_else(broadcast, staying)

    run(scenario)


def test_resubscribing_to_a_channel_after_everyone_left(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast:
            for round_ in range(5):
                async with broadcast.subscribe("again") as subscriber:
                    await broadcast.publish("again", round_)
                    assert (await receive(subscriber)).message == round_
                    await nothing_else(broadcast, subscriber)

    run(scenario)


def test_subscribing_and_leaving_concurrently_keeps_every_live_subscriber_served(
    url: str,
) -> None:
    async def churn(broadcast: Broadcast, n: int) -> None:
        for _ in range(5):
            async with broadcast.subscribe(f"churn{n % 3}"):
                await asyncio.sleep(0)

    async def scenario() -> None:
        async with Broadcast(url) as broadcast:
            await asyncio.gather(*(churn(broadcast, n) for n in range(30)))
            async with broadcast.subscribe("churn0") as subscriber:
                await broadcast.publish("churn0", "still served")
                assert (await receive(subscriber)).message == "still served"
            assert broadcast._counts == {}
            assert broadcast._channels == {}

    run(scenario)


def test_a_big_message_up_to_the_limit(url: str) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url, max_message_size=200_000) as broadcast,
            broadcast.subscribe("big") as subscriber,
        ):
            text, data = "é" * 100_000, bytes(range(256)) * 781
            await broadcast.publish("big", text)  # 200,000 bytes of UTF-8
            await broadcast.publish("big", data)
            await broadcast.publish("big", ["x" * 199_996])  # ["..."] is 200,000 bytes
            assert await messages(subscriber, 3) == [text, data, ["x" * 199_996]]
            for over in ("é" * 100_000 + "x", b"x" * 200_001, ["x" * 199_997], "x" * 200_001):
                with pytest.raises(ValueError, match=r"at most 200000 bytes \(max_message_size\)"):
                    await broadcast.publish("big", over)
            await nothing_else(broadcast, subscriber)

    run(scenario)


# -- backpressure ----------------------------------------------------------------------


async def step(broadcast: Broadcast, fast: Subscriber, messages: list[Any]) -> None:
    """Publish each message once the fast subscriber has the previous one, so it keeps up."""
    for message in messages:
        await broadcast.publish(fast.channel, message)
        assert (await receive(fast)).message == message


def test_drop_oldest_keeps_a_slow_subscriber_on_the_newest_and_spares_the_others(
    url: str,
) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url, max_queue=3, on_full="drop_oldest") as broadcast,
            broadcast.subscribe("slow") as slow,  # never reads until the end
            broadcast.subscribe("slow") as fast,
        ):
            await step(broadcast, fast, list(range(10)))
            assert slow.dropped == 7
            assert fast.dropped == 0
            assert await messages(slow, 3) == [7, 8, 9]  # the newest, in order
            await nothing_else(broadcast, slow, fast)
            assert slow.dropped == 7

    run(scenario)


def test_disconnect_policy_ends_the_slow_subscriber_and_spares_the_others(url: str) -> None:
    async def scenario() -> None:
        broadcast = Broadcast(url, max_queue=3, on_full="disconnect")
        async with broadcast, broadcast.subscribe("policy") as fast:
            async with broadcast.subscribe("policy") as slow:
                await step(broadcast, fast, [0, 1, 2])
                assert len(slow._items) == 3  # full, not over
                await step(broadcast, fast, [3])  # one more: the slow one is dropped
                behind = r"3 messages behind \(max_queue\)"
                with pytest.raises(SubscriberOverflow, match=behind):
                    await anext(slow)  # at once: what it had waiting is dropped too
                with pytest.raises(SubscriberOverflow):
                    await anext(slow)  # and it stays ended
                assert isinstance(SubscriberOverflow("x"), BroadcastError)
                await step(broadcast, fast, [4, 5])
            # The channel is still subscribed for the fast one, in Redis too.
            await step(broadcast, fast, [6])
            await nothing_else(broadcast, fast)

    run(scenario)


def test_the_default_policy_is_disconnect_with_a_bounded_queue(url: str) -> None:
    broadcast = Broadcast(url)
    assert (broadcast.on_full, broadcast.max_queue) == ("disconnect", 1000)
    assert broadcast.max_message_size == 1024 * 1024
    assert broadcast.max_channel_length == 256


def test_a_slow_subscriber_never_blocks_the_publisher(url: str) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(url, max_queue=2, on_full="drop_oldest") as broadcast,
            broadcast.subscribe("burst") as slow,
        ):
            # A burst far beyond the queue, with no one reading: every publish returns.
            for n in range(500):
                await broadcast.publish("burst", n)
            await broadcast.publish("burst", "end")

            async def all_delivered() -> bool:  # through Redis, the burst comes back later
                return slow.dropped == 499

            await until(all_delivered)
            assert await messages(slow, 2) == [499, "end"]

    run(scenario)


def test_a_waiting_iteration_wakes_for_the_next_message(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast, broadcast.subscribe("wake") as subscriber:
            waiting = asyncio.ensure_future(receive(subscriber))
            await asyncio.sleep(0)  # it waits on an empty queue now
            assert not waiting.done()
            await broadcast.publish("wake", "now")
            assert (await waiting).message == "now"

    run(scenario)


def test_a_cancelled_wait_loses_nothing(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast, broadcast.subscribe("cancel") as subscriber:
            waiting = asyncio.ensure_future(anext(subscriber))
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await broadcast.publish("cancel", "kept")
            assert (await receive(subscriber)).message == "kept"

    run(scenario)


# -- life ------------------------------------------------------------------------------


def test_disconnect_ends_every_iteration_promptly(url: str) -> None:
    async def consume(subscriber: Subscriber, entered: asyncio.Event) -> str:
        async with subscriber:
            entered.set()
            async for _ in subscriber:
                pass
        return "ended"

    async def scenario() -> None:
        broadcast = Broadcast(url)
        await broadcast.connect()
        subscribers = [broadcast.subscribe(f"end{n % 2}") for n in range(3)]
        entered = [asyncio.Event() for _ in subscribers]
        tasks = [asyncio.ensure_future(consume(*pair)) for pair in zip(subscribers, entered)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in entered)), NET)
        idle = broadcast.subscribe("end0")  # entered, never read
        await idle.__aenter__()
        await broadcast.publish("end0", "waiting")
        await broadcast.disconnect()
        assert await asyncio.wait_for(asyncio.gather(*tasks), NET) == ["ended"] * 3
        with pytest.raises(StopAsyncIteration):
            await anext(idle)  # at once: what was waiting is dropped
        await idle.__aexit__(None, None, None)
        assert not broadcast.connected
        await broadcast.disconnect()  # twice is harmless

    run(scenario)


def test_a_broadcast_can_connect_again_after_disconnect(url: str) -> None:
    async def scenario() -> None:
        broadcast = Broadcast(url)
        for _ in range(3):
            async with broadcast, broadcast.subscribe("again") as subscriber:
                assert broadcast.connected and broadcast.available
                await broadcast.publish("again", "hi")
                assert (await receive(subscriber)).message == "hi"
            assert not broadcast.connected and not broadcast.available

    run(scenario)


def test_misuse_is_refused_with_a_message_saying_what_to_do(url: str) -> None:
    async def scenario() -> None:
        broadcast = Broadcast(url)
        with pytest.raises(RuntimeError, match=r"await broadcast.connect\(\) first"):
            await broadcast.publish("x", 1)
        with pytest.raises(RuntimeError, match="not connected"):
            async with broadcast.subscribe("x"):
                pass
        async with broadcast:
            with pytest.raises(RuntimeError, match="connected already"):
                await broadcast.connect()
            subscriber = broadcast.subscribe("x")
            with pytest.raises(RuntimeError, match="enter the subscriber first"):
                await anext(subscriber)
            async with subscriber:
                with pytest.raises(RuntimeError, match="entered once"):
                    await subscriber.__aenter__()
            with pytest.raises(RuntimeError, match="entered once"):
                await subscriber.__aenter__()
            assert broadcast._counts == {}
        # Leaving a block after the broadcast disconnected is harmless.
        async with broadcast:
            subscriber = broadcast.subscribe("x")
            await subscriber.__aenter__()
        await subscriber.__aexit__(None, None, None)

    run(scenario)


# -- hostile and invalid input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "error", "match"),
    [
        ("", ValueError, "cannot be empty"),
        ("x" * 257, ValueError, r"at most 256 characters \(max_channel_length\), not 257"),
        ("a\0b", ValueError, "NUL"),
        ("\ud800", ValueError, "lone surrogate"),
        (b"bytes", TypeError, "a channel name is a str, not bytes"),
        (None, TypeError, "not NoneType"),
        (7, TypeError, "not int"),
    ],
    ids=["empty", "long", "nul", "surrogate", "bytes", "none", "int"],
)
def test_bad_channel_names_are_refused_by_publish_and_subscribe(
    url: str, channel: Any, error: type[Exception], match: str
) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast:
            with pytest.raises(error, match=match):
                await broadcast.publish(channel, "x")
            with pytest.raises(error, match=match):
                broadcast.subscribe(channel)

    run(scenario)


def test_the_channel_length_limit_is_configurable(url: str) -> None:
    async def scenario() -> None:
        async with Broadcast(url, max_channel_length=4) as broadcast:
            async with broadcast.subscribe("four") as subscriber:
                await broadcast.publish("four", 4)
                assert (await receive(subscriber)).message == 4
            with pytest.raises(ValueError, match="at most 4 characters"):
                await broadcast.publish("fives", 5)

    run(scenario)


def _circular() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("message", "error", "match"),
    [
        (object(), TypeError, "a str, bytes or a JSON-able value, not object"),
        ({"a": object()}, TypeError, "not dict"),
        (lambda: None, TypeError, "not function"),
        ({(1, 2): "tuple key"}, TypeError, "not dict"),
        ("\ud800", ValueError, "lone surrogate"),
        (["\udfff"], ValueError, "cannot be written as JSON"),
        (10**5000, ValueError, "cannot be written as JSON"),
        (_circular(), ValueError, "cannot be written as JSON"),
        (nested(300), ValueError, "cannot be read back: .* nested more than 256 deep"),
    ],
    ids=["object", "nested_object", "function", "tuple_key", "surrogate", "json_surrogate",
         "huge_int", "circular", "deep"],
)  # fmt: skip
def test_messages_that_cannot_be_sent_are_refused_at_publish(
    url: str, message: Any, error: type[Exception], match: str
) -> None:
    async def scenario() -> None:
        async with Broadcast(url) as broadcast, broadcast.subscribe("bad") as subscriber:
            with pytest.raises(error, match=match):
                await broadcast.publish("bad", message)
            await nothing_else(broadcast, subscriber)  # nothing was sent

    run(scenario)


@pytest.mark.parametrize(
    ("address", "match"),
    [
        ("http://127.0.0.1:6379", r"does not serve http://: use memory://, redis://"),
        ("redis", "without a scheme"),
        ("", "without a scheme"),
        ("memory://host", "memory backend takes no host"),
        ("memory:///path", "memory backend takes no host"),
        ("memory://?x=1", "memory backend takes no host"),
        ("redis://", "names a host"),
        ("redis://:6379/0", "names a host"),
        ("redis://h:99999", "malformed"),
        ("redis://h:port", "malformed"),
        ("redis://h:0", "port is in 1..65535"),
        ("redis://[::1", "malformed"),
        ("redis://h/abc", "the database number"),
        ("redis://h/0/1", "the database number"),
        ("redis://h/-1", "the database number"),
        ("redis://h/٣", "the database number"),
        ("redis://h/0?socket_timeout=1", r"no \?options"),
        ("redis://h/0#frag", r"no \?options"),
        ("rediss://", "names a host"),
        ("unix://", "three slashes"),
        ("unix://host/sock", "three slashes"),
        ("unix:///tmp/redis.sock?protocol=3", r"one option, \?db=N"),
        ("unix:///tmp/redis.sock?db=x", r"one option, \?db=N"),
        ("unix:///tmp/redis.sock#x", "no #fragment"),
    ],
    ids=lambda value: "".join(c if c.isascii() and c.isalnum() else "_" for c in value) or "empty",
)
def test_unknown_or_malformed_urls_are_refused_at_construction(address: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Broadcast(address)


def test_url_errors_and_repr_never_show_the_password() -> None:
    for address in ("redis://user:s3cret@host:bad/0", "redis://:s3cret@h/x", "ftp://:s3cret@h"):
        with pytest.raises(ValueError) as caught:
            Broadcast(address)
        assert "s3cret" not in str(caught.value)
    broadcast = Broadcast("redis://user:s3cret@127.0.0.1:6380/2")
    assert repr(broadcast) == "<Broadcast redis://127.0.0.1:6380/2 disconnected>"
    assert broadcast.backend == "redis"
    assert repr(Broadcast()) == "<Broadcast memory:// disconnected>"
    assert Broadcast().backend == "memory"
    assert repr(Broadcast("redis://[::1]:6379")) == "<Broadcast redis://[::1]:6379 disconnected>"
    assert (
        repr(Broadcast("unix:///run/r.sock?db=1")) == "<Broadcast unix:///run/r.sock disconnected>"
    )


def test_every_accepted_url_form() -> None:
    for address in (
        "memory://",
        "memory:",
        "redis://localhost",
        "redis://localhost:6379",
        "redis://localhost:6379/",
        "redis://localhost:6379/15",
        "redis://user:pass@localhost:6379/0",
        "redis://[::1]:6379/0",
        "rediss://redis.example.com:6380/0",
        "unix:///run/redis.sock",
        "unix:///run/redis.sock?db=3",
    ):
        assert not Broadcast(address).connected


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"url": 6379}, TypeError, "a broadcast URL is a str, not int"),
        ({"max_queue": 0}, ValueError, "max_queue must be positive"),
        ({"max_queue": -1}, ValueError, "max_queue must be positive"),
        ({"max_queue": 1.5}, TypeError, "max_queue is an int, not float"),
        ({"max_queue": True}, TypeError, "max_queue is an int, not bool"),
        ({"max_queue": "10"}, TypeError, "max_queue is an int, not str"),
        ({"max_message_size": 0}, ValueError, "max_message_size must be positive"),
        ({"max_channel_length": 0}, ValueError, "max_channel_length must be positive"),
        ({"on_full": "drop_newest"}, ValueError, "or 'disconnect', not 'drop_newest'"),
        ({"on_full": None}, ValueError, "'drop_oldest' or 'disconnect'"),
        ({"timeout": 0}, ValueError, "timeout must be positive and finite"),
        ({"timeout": float("inf")}, ValueError, "timeout must be positive and finite"),
        ({"timeout": float("nan")}, ValueError, "timeout must be positive and finite"),
        ({"timeout": "5"}, TypeError, "timeout is a number of seconds, not str"),
        ({"ping_interval": -1}, ValueError, "ping_interval must be positive"),
        ({"reconnect_delay": 0}, ValueError, "reconnect_delay must be positive"),
        ({"max_reconnect_delay": None}, TypeError, "max_reconnect_delay is a number"),
        ({"reconnect_delay": 2, "max_reconnect_delay": 1}, ValueError, "cannot be more than"),
    ],
    ids=["url", "queue_zero", "queue_negative", "queue_float", "queue_bool", "queue_str",
         "size_zero", "length_zero", "policy", "policy_none", "timeout_zero", "timeout_inf",
         "timeout_nan", "timeout_str", "ping", "delay", "max_delay", "delays"],
)  # fmt: skip
def test_bad_options_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Broadcast(**options)


# -- lifespan --------------------------------------------------------------------------


def chat_app(broadcast: Broadcast, **options: Any) -> Bare:
    """POST /say/{room} publishes the body's JSON; /ws/{room} forwards the room to a
    WebSocket client until a message says "bye"."""
    app = Bare(**options)

    @app.post("/say/{room}")
    async def say(request: Request) -> dict[str, bool]:
        await broadcast.publish(request.path_params["room"], await request.json())
        return {"available": broadcast.available}

    @app.websocket("/ws/{room}")
    async def listen(ws: WebSocket) -> None:
        async with ws, broadcast.subscribe(ws.path_params["room"]) as subscriber:
            await ws.send_text("ready")
            async for event in subscriber:
                await ws.send_json({"room": event.channel, "message": event.message})
                if event.message == "bye":
                    break

    return app


def test_lifespan_connects_at_startup_and_disconnects_at_shutdown(url: str) -> None:
    broadcast = Broadcast(url)
    app = chat_app(broadcast, lifespan=broadcast.lifespan)
    with TestClient(app) as client:
        assert broadcast.connected
        with client.websocket_connect("/ws/lobby") as ws:
            assert ws.receive_text() == "ready"
            assert client.post("/say/lobby", json={"text": "hi"}).json() == {"available": True}
            client.post("/say/elsewhere", json="not here")
            client.post("/say/lobby", json="bye")
            assert ws.receive_json() == {"room": "lobby", "message": {"text": "hi"}}
            assert ws.receive_json() == {"room": "lobby", "message": "bye"}
    assert not broadcast.connected
    with TestClient(app) as client:  # and again: a new startup connects anew
        assert broadcast.connected
    assert not broadcast.connected


def test_startup_and_shutdown_handlers_wire_it_next_to_another_lifespan(url: str) -> None:
    import contextlib

    broadcast = Broadcast(url)
    order: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> Any:
        order.append(f"lifespan sees connected={broadcast.connected}")
        yield
        order.append("lifespan left")

    app = chat_app(
        broadcast,
        lifespan=lifespan,
        on_startup=[broadcast.connect],
        on_shutdown=[broadcast.disconnect],
    )
    with TestClient(app) as client, client.websocket_connect("/ws/r") as ws:
        assert ws.receive_text() == "ready"
        client.post("/say/r", json="bye")
        assert ws.receive_json() == {"room": "r", "message": "bye"}
    assert order == ["lifespan sees connected=True", "lifespan left"]
    assert not broadcast.connected


def test_async_with_inside_your_own_lifespan(url: str) -> None:
    import contextlib

    broadcast = Broadcast(url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> Any:
        async with broadcast:
            yield {"ready": True}

    app = chat_app(broadcast, lifespan=lifespan)
    with TestClient(app) as client, client.websocket_connect("/ws/own") as ws:
        assert ws.receive_text() == "ready"
        client.post("/say/own", json="bye")
        assert ws.receive_json() == {"room": "own", "message": "bye"}
    assert not broadcast.connected


def test_without_the_lifespan_publishing_is_a_clear_500_not_a_hang() -> None:
    broadcast = Broadcast()
    app = chat_app(broadcast)
    response = TestClient(app, raise_server_exceptions=False).post("/say/x", json=1)
    assert response.status_code == 500


# -- Redis only ------------------------------------------------------------------------


def test_two_broadcasts_on_one_redis_reach_each_other_as_two_processes_would(
    redis_url: str,
) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(redis_url) as here,
            Broadcast(redis_url) as there,
            here.subscribe("shared") as near,
            there.subscribe("shared") as far,
            there.subscribe("other") as other,
        ):
            await here.publish("shared", {"from": "here"})
            await there.publish("shared", b"from there")
            for subscriber in (near, far):
                assert await messages(subscriber, 2) == [{"from": "here"}, b"from there"]
            await nothing_else(here, near, far)
            await nothing_else(there, other)

    run(scenario)


def test_two_memory_broadcasts_are_separate() -> None:
    async def scenario() -> None:
        async with (
            Broadcast() as here,
            Broadcast() as there,
            there.subscribe("shared") as far,
        ):
            await here.publish("shared", "only here")
            await nothing_else(there, far)

    run(scenario)


def test_one_redis_subscription_per_channel_whatever_the_local_subscribers(
    redis_url: str,
) -> None:
    async def count() -> int:
        return await redis_subscribers(redis_url, "counted")

    async def scenario() -> None:
        async with Broadcast(redis_url) as broadcast:
            assert await count() == 0
            async with broadcast.subscribe("counted"):
                # Entering waited for Redis to confirm: nothing is left unconfirmed.
                backend = broadcast._backend
                assert backend is not None
                assert backend._unconfirmed == {}  # type: ignore[attr-defined]
                assert backend._subscribed == {"counted"}  # type: ignore[attr-defined]
                assert await count() == 1
                async with broadcast.subscribe("counted"), broadcast.subscribe("counted"):
                    assert await count() == 1  # one connection serves them all
                assert await count() == 1
            assert broadcast._counts == {}

            async def unsubscribed() -> bool:
                return await count() == 0

            await until(unsubscribed)  # the last one left: unsubscribed in Redis

    run(scenario)


def test_messages_from_other_programs_in_the_wire_format(redis_url: str) -> None:
    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            async with (
                Broadcast(redis_url) as broadcast,
                broadcast.subscribe("wire") as subscriber,
            ):
                await client.publish("wire", "shéllo".encode())
                await client.publish("wire", b"b\x00\x01")
                await client.publish("wire", b'j{"a":[1,null]}')
                await client.publish("wire", b"s")
                assert await messages(subscriber, 4) == ["héllo", b"\x00\x01", {"a": [1, None]}, ""]
                await nothing_else(broadcast, subscriber)
        finally:
            await client.aclose()

    run(scenario)


def test_messages_not_in_the_wire_format_are_dropped_and_said_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = [
        b"",  # no kind at all
        b"plain text from redis-cli",
        b"s\xff\xfe",  # not UTF-8
        b"j{not json",
        b"j" + b"[" * 1000 + b"]" * 1000,  # nested too deep
        b"jNaN",
        b"s" + b"x" * 1001,  # over this subscriber's limit
    ]

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            async with (
                Broadcast(redis_url, max_message_size=1000) as broadcast,
                broadcast.subscribe("foreign") as subscriber,
            ):
                for payload in hostile:
                    await client.publish("foreign", payload)
                await client.publish("foreign", b"sfine")
                assert (await receive(subscriber)).message == "fine"
                assert broadcast.available  # the connection was not dropped for them
                await nothing_else(broadcast, subscriber)
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="bare.broadcast"):
        run(scenario)
    said = [r for r in caplog.records if "not in bare's format" in r.getMessage()]
    assert len(said) == 1


def test_a_unix_socket_url(tmp_path: Path) -> None:
    socket = tmp_path / "redis.sock"

    class UnixRedis(RedisServer):
        def command(self) -> list[str]:
            return [*super().command(), "--unixsocket", str(socket), "--unixsocketperm", "700"]

    server = UnixRedis()
    try:
        server.start()

        async def scenario() -> None:
            async with (
                Broadcast(f"unix://{socket}?db=1") as broadcast,
                broadcast.subscribe("sock") as subscriber,
            ):
                await broadcast.publish("sock", {"via": "unix"})
                assert (await receive(subscriber)).message == {"via": "unix"}

        run(scenario)
    finally:
        server.close()


def test_connecting_to_no_redis_is_a_clear_error_soon(redis_url: str) -> None:
    from servers import free_port

    nowhere = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario() -> None:
        broadcast = Broadcast(nowhere, timeout=1)
        with pytest.raises(BroadcastUnavailable, match=r"cannot reach Redis at redis://127"):
            await broadcast.connect()
        assert not broadcast.connected
        with pytest.raises(RuntimeError, match="not connected"):
            await broadcast.publish("x", 1)

    run(scenario)
    assert issubclass(BroadcastUnavailable, ConnectionError)


def test_a_missing_redis_package_names_what_to_install() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from bare.broadcast import Broadcast\n"
        "Broadcast()  # memory needs nothing\n"
        "try:\n"
        "    Broadcast('redis://localhost')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        "Broadcast with a Redis URL needs redis-py: pip install redis "
        "(or, in a checkout of bare, pip install '.[redis]')"
    )


def test_importing_bare_broadcast_for_memory_does_not_import_redis() -> None:
    code = (
        "import sys, asyncio\n"
        "from bare.broadcast import Broadcast\n"
        "async def main():\n"
        "    async with Broadcast() as b, b.subscribe('c') as s:\n"
        "        await b.publish('c', 1)\n"
        "asyncio.run(main())\n"
        "print('redis' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
