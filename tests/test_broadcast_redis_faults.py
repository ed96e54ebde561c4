"""bare.broadcast when Redis fails: killed (SIGKILL) and started again on the same port,
or frozen (SIGSTOP) and resumed.

What each test shows: publishers get `BroadcastUnavailable` while Redis is gone (soon,
never a hang), subscribers stay subscribed and receive what is published once Redis is
back, and what was lost is exactly what was refused to the publishers. Waits are on
events, with `NET` as a net; "Redis is back" is polled, as no event tells it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bare.broadcast import Broadcast, BroadcastUnavailable, Subscriber
from redis_server import RedisServer
from test_broadcast import MARK, NET, nothing_else, receive, redis_subscribers, run

# Short timings, so that a failure is seen and mended quickly.
FAST: dict[str, Any] = {
    "timeout": 1.0,
    "ping_interval": 0.3,
    "reconnect_delay": 0.02,
    "max_reconnect_delay": 0.2,
}


@pytest.fixture
def server(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The module's Redis, running again after the test whatever the test did to it."""
    yield redis_server
    if redis_server.server is None:
        redis_server.start()
    else:
        redis_server.server.process.send_signal(signal.SIGCONT)


def freeze(server: RedisServer, stop: bool) -> None:
    assert server.server is not None
    server.server.process.send_signal(signal.SIGSTOP if stop else signal.SIGCONT)


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def publish_all(broadcast: Broadcast, channel: str, items: list[Any]) -> list[Any]:
    """Publish each item; the ones refused with `BroadcastUnavailable`."""
    refused = []
    for item in items:
        try:
            await asyncio.wait_for(broadcast.publish(channel, item), NET)
        except BroadcastUnavailable:
            refused.append(item)
    return refused


async def back(broadcast: Broadcast) -> None:
    """Wait until `broadcast` is subscribed again through the restarted Redis."""
    await asyncio.wait_for(until(lambda: broadcast.available), NET)


def test_killed_redis_refuses_publishers_and_subscribers_recover_after_restart(
    server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(server.url, **FAST) as here,
            Broadcast(server.url, **FAST) as there,
            there.subscribe("stream") as subscriber,
            here.subscribe("stream") as local,
        ):
            for n in range(5):  # mid-stream: every message delivered so far
                await here.publish("stream", n)
                assert (await receive(subscriber)).message == n
                assert (await receive(local)).message == n
            waiting = asyncio.ensure_future(anext(subscriber))

            server.kill()
            refused = await publish_all(here, "stream", ["down 1", "down 2", "down 3"])
            assert refused == ["down 1", "down 2", "down 3"]  # every one, each at once
            await until(lambda: not there.available)  # the reader saw it too
            assert there.connected and not waiting.done()  # still subscribed, waiting

            server.start()
            await back(there)
            await back(here)
            assert await publish_all(here, "stream", ["after 1", "after 2"]) == []
            # What was lost is exactly what the publisher was told of: the refused ones.
            assert (await asyncio.wait_for(waiting, NET)).message == "after 1"
            assert (await receive(subscriber)).message == "after 2"
            assert [(await receive(local)).message for _ in range(2)] == ["after 1", "after 2"]
            await nothing_else(here, subscriber, local)

    run(scenario)


def test_publishing_works_at_once_after_a_restart(server: RedisServer) -> None:
    # Publishes at once leave several connections in the pool, which the crash breaks;
    # once Redis is back none of them may fail a publish (redis-py 8 stopped checking
    # them unless told to).
    async def scenario() -> None:
        async with Broadcast(server.url, **FAST) as broadcast:
            await asyncio.gather(*(broadcast.publish("x", n) for n in range(3)))
            server.kill()
            await until(lambda: not broadcast.available)  # the loop saw the sockets close
            server.start()
            await back(broadcast)
            published = broadcast.publish
            results = await asyncio.gather(
                *(published("x", n) for n in range(3)), return_exceptions=True
            )
            assert results == [None, None, None]

    run(scenario)


def test_every_channel_is_subscribed_again_and_changes_made_meanwhile_are_kept(
    server: RedisServer,
) -> None:
    channels = [f"room{n}" for n in range(5)]

    async def scenario() -> None:
        async with Broadcast(server.url, **FAST) as publisher, Broadcast(server.url, **FAST) as b:
            subscribers = [b.subscribe(channel) for channel in channels]
            leaving = b.subscribe("gone")
            for subscriber in [*subscribers, leaving]:
                await subscriber.__aenter__()
            try:
                server.kill()
                await until(lambda: not b.available)
                # While Redis is down, joining returns at once and leaving works.
                joining = b.subscribe("new")
                await asyncio.wait_for(joining.__aenter__(), NET)
                subscribers.append(joining)
                await asyncio.wait_for(leaving.__aexit__(None, None, None), NET)

                server.start()
                await back(b)
                for subscriber in subscribers:
                    assert await redis_subscribers(server.url, subscriber.channel) == 1
                assert await redis_subscribers(server.url, "gone") == 0
                for subscriber in subscribers:
                    await publisher.publish(subscriber.channel, f"to {subscriber.channel}")
                for subscriber in subscribers:
                    assert (await receive(subscriber)).message == f"to {subscriber.channel}"
                await nothing_else(publisher, *subscribers)
            finally:
                for subscriber in subscribers:
                    await subscriber.__aexit__(None, None, None)

    run(scenario)


def test_a_frozen_redis_times_out_publishers_and_is_found_silent_by_the_reader(
    server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with (
            Broadcast(server.url, **FAST) as publisher,
            Broadcast(server.url, **FAST) as b,
            b.subscribe("frozen") as old,
        ):
            await publisher.publish("frozen", "before")
            assert (await receive(old)).message == "before"

            freeze(server, True)
            # NOTE: to a channel no one reads: Redis may still run a command that timed
            # out once it resumes, and this test is about what it says to the publisher.
            with pytest.raises(BroadcastUnavailable, match="TimeoutError"):
                await asyncio.wait_for(publisher.publish("void", "lost"), NET)
            await asyncio.wait_for(until(lambda: not b.available), NET)  # a ping unanswered
            new = b.subscribe("thawed")
            await asyncio.wait_for(new.__aenter__(), NET)  # does not wait for Redis
            try:
                freeze(server, False)
                await back(b)
                await back(publisher)
                await publisher.publish("frozen", "after")
                await publisher.publish("thawed", "after")
                assert (await receive(old)).message == "after"
                assert (await receive(new)).message == "after"
                await nothing_else(publisher, old, new)
            finally:
                await new.__aexit__(None, None, None)

    run(scenario)


def test_connect_fails_clearly_and_disconnect_is_prompt_while_redis_is_down(
    server: RedisServer,
) -> None:
    async def consume(subscriber: Subscriber, entered: asyncio.Event) -> list[Any]:
        got = []
        async with subscriber:
            entered.set()
            async for event in subscriber:
                got.append(event.message)
        return got

    async def scenario() -> None:
        b = Broadcast(server.url, **FAST)
        await b.connect()
        entered = asyncio.Event()
        task = asyncio.ensure_future(consume(b.subscribe("x"), entered))
        await asyncio.wait_for(entered.wait(), NET)
        await b.publish("x", "one")
        server.kill()
        await until(lambda: not b.available)

        late = Broadcast(server.url, **FAST)
        with pytest.raises(BroadcastUnavailable, match="cannot reach Redis"):
            await asyncio.wait_for(late.connect(), NET)
        assert not late.connected

        # The reader is retrying with backoff: disconnect stops it and ends the iteration.
        await asyncio.wait_for(b.disconnect(), NET)
        assert await asyncio.wait_for(task, NET) == ["one"]

    run(scenario)


def test_a_long_outage_backs_off_and_still_recovers(server: RedisServer) -> None:
    async def scenario() -> None:
        options = {**FAST, "reconnect_delay": 0.01, "max_reconnect_delay": 0.05}
        async with (
            Broadcast(server.url, **options) as publisher,
            Broadcast(server.url, **options) as b,
            b.subscribe("long") as subscriber,
        ):
            server.kill()
            # Down long enough for dozens of attempts (the outcome does not depend on it).
            await asyncio.sleep(0.5)
            assert not b.available
            server.start()
            await back(b)
            await back(publisher)
            await publisher.publish("long", MARK)
            assert (await receive(subscriber)).message == MARK

    run(scenario)


def test_disconnect_during_a_reconnect_leaves_nothing_running(server: RedisServer) -> None:
    async def scenario() -> None:
        before = asyncio.all_tasks()
        b = Broadcast(server.url, **FAST)
        await b.connect()
        backend: Any = b._backend
        reader = backend._reader
        server.kill()
        await until(lambda: not b.available)
        server.start()  # the reader may be connecting again just now
        await asyncio.wait_for(b.disconnect(), NET)
        assert reader.done()
        assert asyncio.all_tasks() == before

    run(scenario)
