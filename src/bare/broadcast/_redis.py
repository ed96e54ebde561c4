"""The Redis backend: pub/sub through redis-py's asyncio client.

One connection per `Broadcast` carries every subscription of the process: a channel
is subscribed in Redis when its first local subscriber arrives and unsubscribed when
the last one leaves, and one reader task hands what arrives to the local queues.
Publishing goes through the client's connection pool.

When the subscription connection breaks (or stops answering pings), the reader makes
it again with exponential backoff and subscribes every channel again; meanwhile the
local subscribers stay subscribed and simply receive nothing. Redis pub/sub delivers
at most once: what is published while a process is not subscribed never reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .._concurrency import within
from . import _wire
from ._broadcast import BroadcastUnavailable

__all__ = ["RedisBackend"]

logger = logging.getLogger("bare.broadcast")

# redis-py 8 skips its check of pooled connections while "maintenance notifications"
# are on (its default): after Redis restarts, each connection of the pool that Redis
# closed would then fail one publish, which nothing here retries. Turned off, the pool
# replaces them unseen. Older redis-py checks them anyway and has no such option.
# Guarded by tests/test_broadcast_redis_faults.py::test_publishing_works_at_once_after_a_restart.
_CHECKED_POOL: dict[str, Any] = {}
with contextlib.suppress(ImportError):
    from redis.maint_notifications import MaintNotificationsConfig

    _CHECKED_POOL["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)

# What a lost, refused or silent connection raises on the way up.
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class _Silent(Exception):
    """The subscription connection did not answer a ping in time."""


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RedisBackend:
    """Messages through Redis pub/sub (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        where: str,
        *,
        counts: Mapping[str, int],
        deliver: Callable[[str, Any], None],
        max_message_size: int,
        timeout: float,
        ping_interval: float,
        reconnect_delay: float,
        max_reconnect_delay: float,
    ) -> None:
        self._url = url
        self._where = where
        self._wanted = counts  # the channels with local subscribers: the ones to subscribe
        self._deliver = deliver
        self._limit = max_message_size
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._delay = reconnect_delay
        self._max_delay = max_reconnect_delay
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None  # None while the connection is being made
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one command at a time on the subscription connection
        # On the current connection: channels subscribed (commands sent), commands whose
        # confirmation has not come back yet, by channel, and futures that subscribers
        # wait on until Redis confirms their channel.
        self._subscribed: set[str] = set()
        self._unconfirmed: dict[str, int] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._restoring = False  # subscriptions sent again after a reconnect, not all confirmed
        self._skipped = 0  # messages not in the wire format, dropped

    @property
    def available(self) -> bool:
        return self._pubsub is not None and not self._restoring

    # -- connections ------------------------------------------------------------------

    async def connect(self) -> None:
        client = Redis.from_url(
            self._url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            # NOTE: no retries inside redis-py: a publish fails at once with a clear
            # error, and the reader does its own reconnecting.
            retry=Retry(NoBackoff(), 0),
            **_CHECKED_POOL,
        )
        try:
            pubsub = await self._open(client)
        except BaseException:
            await self._close(client.aclose())
            raise
        self._client = client
        await self._use(pubsub)
        self._reader = asyncio.create_task(self._read(), name="bare.broadcast redis reader")

    async def _open(self, client: Redis) -> PubSub:
        """A new subscription connection; `BroadcastUnavailable` if Redis is not there."""
        pubsub = client.pubsub()
        try:
            await within(self._timeout, pubsub.connect())  # type: ignore[no-untyped-call]
        except BaseException as exc:
            await self._close(pubsub.aclose())  # type: ignore[no-untyped-call]
            if isinstance(exc, _FAILURES):
                raise BroadcastUnavailable(
                    f"cannot reach Redis at {self._where} ({_describe(exc)})"
                ) from exc
            raise
        return pubsub

    async def _use(self, pubsub: PubSub) -> None:
        """Make `pubsub` the subscription connection and subscribe the wanted channels."""
        self._subscribed.clear()
        self._unconfirmed.clear()
        self._pubsub = pubsub
        self._restoring = bool(self._wanted)
        await self._sync()

    async def _close(self, closing: Any) -> None:
        """Await a close within `timeout`, whatever it raises: closing never fails."""
        with contextlib.suppress(Exception):
            await within(self._timeout, closing)

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            # NOTE: asyncio.wait_for can swallow a cancellation that comes as the call
            # it waits for fails (Python < 3.12): the reader, reconnecting, then goes
            # on. So cancel again until it is done; and wait without taking its outcome
            # as ours, so that a cancellation of disconnect() itself still reaches it.
            while not (await asyncio.wait({reader}, timeout=min(self._timeout, 0.1)))[0]:
                reader.cancel()
            if not reader.cancelled():
                reader.exception()  # retrieved: the reader logs its own troubles
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await self._close(pubsub.aclose())  # type: ignore[no-untyped-call]
        self._release_waiters()
        client, self._client = self._client, None
        if client is not None:
            await self._close(client.aclose())

    def _release_waiters(self) -> None:
        """Let every subscriber waiting for a confirmation go on (it stays subscribed
        locally: a new connection subscribes it again)."""
        waiters = list(self._confirmed.values())
        self._confirmed.clear()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- subscriptions ----------------------------------------------------------------

    async def join(self, channel: str) -> None:
        if self._pubsub is None:
            return  # subscribed when the connection is made again
        if channel in self._subscribed and channel not in self._unconfirmed:
            return
        waiter = self._confirmed.get(channel)
        if waiter is None:
            waiter = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        await self._sync()
        if waiter.done() or self._pubsub is None:
            return
        # Wait for Redis to confirm, so that what is published from now on arrives. If
        # it does not answer in time the subscriber goes on all the same: the reader
        # finds the connection silent and subscribes again on a new one.
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._timeout, asyncio.shield(waiter))

    async def leave(self, channel: str) -> None:
        await self._sync()

    async def _sync(self) -> None:
        """Subscribe and unsubscribe in Redis until it matches the local subscribers.

        Every change goes through here under the lock, each time comparing what is
        wanted now with what was sent, so changes made while a command was on its way
        (or while the connection was being made) are never missed.
        """
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return
            wanted, subscribed = self._wanted, self._subscribed
            add = [channel for channel in wanted if channel not in subscribed]
            remove = [channel for channel in subscribed if channel not in wanted]
            try:
                for command, channels in (("SUBSCRIBE", add), ("UNSUBSCRIBE", remove)):
                    if not channels:
                        continue
                    for channel in channels:
                        self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
                    if command == "SUBSCRIBE":
                        subscribed.update(channels)
                    else:
                        subscribed.difference_update(channels)
                    await pubsub.execute_command(command, *channels)
            except _FAILURES:
                # The reader finds the connection broken too, makes a new one and
                # subscribes everything wanted then.
                pass

    def _confirm(self, raw: bytes) -> None:
        """Redis confirmed one (un)subscribe command of channel `raw`."""
        channel = raw.decode("utf-8", "replace")
        left = self._unconfirmed.get(channel, 0) - 1
        if left > 0:
            self._unconfirmed[channel] = left
            return
        self._unconfirmed.pop(channel, None)
        if channel in self._subscribed:
            waiter = self._confirmed.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if self._restoring and not self._unconfirmed:
            self._restoring = False
            logger.info("broadcast: subscribed again through Redis at %s", self._where)

    # -- publishing -------------------------------------------------------------------

    async def publish(self, channel: str, message: Any) -> None:
        payload = _wire.encode(message, self._limit)
        client = self._client
        if client is None:  # pragma: no cover - Broadcast checks that it is connected
            raise RuntimeError("the Redis backend is not connected")
        try:
            await within(self._timeout, client.publish(channel, payload))
        except _FAILURES as exc:
            raise BroadcastUnavailable(
                f"Redis at {self._where} did not take the message to {channel!r} "
                f"({_describe(exc)}); it may not have been published"
            ) from exc

    # -- the reader -------------------------------------------------------------------

    async def _read(self) -> None:
        """Hand what arrives to the local subscribers; when the connection is lost,
        make a new one with backoff and subscribe again. Runs until cancelled."""
        while True:
            pubsub = self._pubsub
            if pubsub is not None:
                try:
                    await self._listen(pubsub)
                except Exception as exc:  # anything: subscribers never wait on a dead reader
                    logger.warning(
                        "broadcast: lost the connection to Redis at %s (%s); reconnecting",
                        self._where,
                        _describe(exc),
                    )
                async with self._lock:
                    self._pubsub = None
                    self._restoring = False
                self._release_waiters()
                await self._close(pubsub.aclose())  # type: ignore[no-untyped-call]
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = self._delay
        client = self._client
        if client is None:  # pragma: no cover - only after disconnect, which cancels us
            return
        while True:
            try:
                pubsub = await self._open(client)
            except Exception as exc:  # anything: the reader must never die
                logger.debug("broadcast: Redis at %s: %s", self._where, _describe(exc))
                # Jitter: processes that lost Redis together do not all return at once.
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._max_delay)
                continue
            await self._use(pubsub)
            if not self._restoring:
                logger.info("broadcast: connected again to Redis at %s", self._where)
            return

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        interval = self._ping_interval
        last = loop.time()  # when Redis last said anything
        while True:
            message = await pubsub.get_message(timeout=interval)
            now = loop.time()
            if message is None:
                if now - last >= interval + self._timeout:
                    raise _Silent(f"no answer to a ping within {self._timeout}s")
                if now - last >= interval:
                    async with self._lock:
                        await pubsub.ping()
                continue
            last = now
            kind = message["type"]
            if kind == "message":
                self._receive(message["channel"], message["data"])
            elif kind in ("subscribe", "unsubscribe"):
                self._confirm(message["channel"])

    def _receive(self, raw: bytes, payload: bytes) -> None:
        try:
            channel = raw.decode("utf-8")
            message = _wire.decode(payload, self._limit)
        except ValueError as exc:  # another program's message: dropped, and said once
            self._skipped += 1
            if self._skipped == 1:
                logger.warning(
                    "broadcast: dropped a message not in bare's format from Redis at %s "
                    "(%s); later ones are dropped silently",
                    self._where,
                    exc,
                )
            return
        self._deliver(channel, message)
