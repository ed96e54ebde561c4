"""Broadcast: publish messages to named channels and subscribe to them, in one process
(`memory://`) or across processes and hosts through Redis pub/sub (`redis://`)::

    from bare.broadcast import Broadcast

    broadcast = Broadcast("memory://")
    app = Bare(lifespan=broadcast.lifespan)

    await broadcast.publish("news", {"title": "hello"})

    async with broadcast.subscribe("news") as subscriber:
        async for event in subscriber:
            print(event.channel, event.message)

`Rooms(broadcast)` groups WebSocket connections into rooms on top of it (join, leave,
send to a room; docs/websockets.md, "Rooms").

Not imported by `import bare`: import `bare.broadcast` to use it. The Redis backend
needs redis-py (`pip install redis`), imported when a Redis URL is given. See
docs/websockets.md, "Broadcast".
"""

from ._broadcast import (
    Broadcast,
    BroadcastError,
    BroadcastUnavailable,
    Event,
    OnFull,
    Subscriber,
    SubscriberOverflow,
)
from ._rooms import Room, Rooms

__all__ = [
    "Broadcast",
    "BroadcastError",
    "BroadcastUnavailable",
    "Event",
    "OnFull",
    "Room",
    "Rooms",
    "Subscriber",
    "SubscriberOverflow",
]
