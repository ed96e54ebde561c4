"""`bare._concurrency.within`: a time limit that never loses a cancellation.

Before Python 3.12, `asyncio.wait_for` returned normally when its task was cancelled just
as the operation it waited for ended, so the cancellation was lost: an event stream whose
client had gone kept running for ever (uvicorn's `send` returns at once then). `within`
must let every such cancellation through, on every Python bare supports.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bare._concurrency import within


async def sent_at_once() -> None:
    """What a server's `send` does once the client has gone: nothing, at once."""


async def producer() -> str:
    for _ in range(1000):
        await within(30, sent_at_once())
        await asyncio.sleep(0)  # the pause between two events
    return "never cancelled"


def test_a_cancellation_that_comes_as_the_operation_ends_goes_through() -> None:
    async def main() -> list[str]:
        lost = []
        # Cancelled after 0 to 6 turns of the loop: each lands at another point of the
        # send and the pause (wait_for lost about 7 in 10 of these on 3.10 and 3.11).
        for trial in range(200):
            task = asyncio.ensure_future(producer())
            for _ in range(trial % 7):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                lost.append(await task)
        return lost

    assert asyncio.run(main()) == []


def test_the_time_limit_and_the_result() -> None:
    async def main() -> None:
        assert await within(30, asyncio.sleep(0, "done")) == "done"
        never = asyncio.get_running_loop().create_future()
        with pytest.raises(asyncio.TimeoutError):
            await within(0.01, never)
        assert never.cancelled()  # the operation is cancelled, as wait_for does
        # The task is not left cancelled: it goes on after the timeout.
        assert await within(30, asyncio.sleep(0, "after")) == "after"

    asyncio.run(main())


def test_a_cancellation_from_outside_is_not_taken_for_a_timeout() -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def waiting() -> None:
            started.set()
            await within(30, asyncio.get_running_loop().create_future())

        task = asyncio.ensure_future(waiting())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
