"""Generator dependencies: entering them up to their `yield`, and finishing them (the
code after it) before the response (`scope="function"`) or once the request is over
(`scope="request"`), with the handler's exception thrown in where there was one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ._concurrency import run_in_threadpool
from .requests import REQUEST_ID_KEY

__all__ = [
    "Finish",
    "Scoped",
    "async_finisher",
    "finish_function_scope",
    "first_value",
    "keep",
    "sync_finisher",
]

logger = logging.getLogger("bare.dependencies")

Finish = Callable[[BaseException | None], Awaitable[None]]


class Scoped(Protocol):
    """What a cleanup needs of the request's dependency context."""

    connection: Any
    error: BaseException | None
    function_exits: list[Finish]
    websocket: bool


def first_value(generator: Any, name: str) -> Any:
    """The first value a sync generator dependency yields (in a worker thread)."""
    try:
        return next(generator)
    except StopIteration:
        raise RuntimeError(f"generator dependency {name} did not yield") from None


def async_finisher(generator: Any, name: str) -> Finish:
    async def finish(exc: BaseException | None) -> None:
        try:
            if exc is None:
                await generator.__anext__()
            else:
                await generator.athrow(exc)
        except StopAsyncIteration:
            return
        except BaseException as raised:
            if raised is exc:
                return  # re-raised: the handler's error stands
            raise
        await generator.aclose()
        raise RuntimeError(f"generator dependency {name} yielded more than once")

    return finish


def sync_finisher(generator: Any, name: str) -> Finish:
    def finish_in_thread(exc: BaseException | None) -> None:
        try:
            if exc is None:
                next(generator)
            else:
                generator.throw(exc)
        except StopIteration:
            return
        except BaseException as raised:
            if raised is exc:
                return
            raise
        generator.close()
        raise RuntimeError(f"generator dependency {name} yielded more than once")

    async def finish(exc: BaseException | None) -> None:
        await run_in_threadpool(finish_in_thread, exc)

    return finish


def keep(ctx: Scoped, request_scope: bool, finish: Finish, name: str) -> None:
    """Register a generator's cleanup: before the response (`scope="function"`), or
    once the request is over (`scope="request"`), logged if it fails."""
    if not request_scope or ctx.websocket:
        ctx.function_exits.append(finish)
        return
    request = ctx.connection

    async def after_response() -> None:
        try:
            await finish(ctx.error)
        except Exception:
            scope = request.scope
            logger.exception(
                "cleanup of dependency %s failed after %s %r (request id %r)",
                name,
                scope.get("method"),
                scope.get("path"),
                scope.get(REQUEST_ID_KEY),
            )

    exits = request._exits
    if exits is None:
        exits = request._exits = []
        request._deferred = True
    exits.append(after_response)


async def finish_function_scope(ctx: Scoped, exc: BaseException | None) -> None:
    """Run the `scope="function"` cleanups, last entered first; one that raises makes
    its exception the response's (a failed commit is a 500, not a 200)."""
    exits = ctx.function_exits
    failure = exc
    while exits:
        finish = exits.pop()
        try:
            await finish(failure)
        except Exception as raised:
            failure = raised
    ctx.error = failure
    if failure is not exc and failure is not None:
        raise failure
