"""Running blocking callables off the event loop, in two separate pools of threads.

- `run_in_threadpool`: the loop's default executor. Sync handlers, exception handlers
  and lifespan hooks run there: short calls that answer a request.
- `run_in_stream_thread`: bare's stream pool, at most `set_stream_threads()` threads
  (64 by default), created on first use. The `next()` calls of sync iterators behind a
  `StreamingResponse` and the file reads of a `FileResponse` run there: work that lasts
  as long as a download or an event stream. However many streams are open, they never
  take a thread from the handlers. When every stream thread is busy, a stream's next
  call waits (first come, first served) until one is free.

The module imports nothing heavy: asyncio, `inspect` and `concurrent.futures` are loaded
on first use, when an event loop is running anyway.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from _thread import allocate_lock
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._lazy import Lazy

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop
    from collections.abc import Awaitable
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "DEFAULT_STREAM_THREADS",
    "SyncIterator",
    "is_async_callable",
    "run_in_stream_thread",
    "run_in_threadpool",
    "set_stream_threads",
    "stream_threads",
    "within",
]

T = TypeVar("T")

DEFAULT_STREAM_THREADS = 64

_RUNNING_LOOP: Lazy[Callable[[], AbstractEventLoop]] = Lazy("asyncio", "get_running_loop")


async def run_in_threadpool(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `func(*args, **kwargs)` in the loop's default executor, keeping context vars."""
    loop = (_RUNNING_LOOP.value or _RUNNING_LOOP.load())()
    context = contextvars.copy_context()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await loop.run_in_executor(None, call)


# -- the stream pool ----------------------------------------------------------------------

_stream_limit = DEFAULT_STREAM_THREADS
_stream_pool: ThreadPoolExecutor | None = None
_pool_lock = allocate_lock()


def _new_stream_pool() -> ThreadPoolExecutor:
    global _stream_pool
    with _pool_lock:
        if _stream_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _stream_pool = ThreadPoolExecutor(_stream_limit, thread_name_prefix="bare-stream")
        return _stream_pool


def _forget_stream_pool() -> None:
    # A forked child has none of its parent's threads: it starts a pool of its own.
    global _stream_pool, _pool_lock
    _stream_pool = None
    _pool_lock = allocate_lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_stream_pool)


async def run_in_stream_thread(func: Callable[..., T], *args: Any) -> T:
    """Run `func(*args)` in the stream pool, keeping context vars."""
    loop = (_RUNNING_LOOP.value or _RUNNING_LOOP.load())()
    call = functools.partial(contextvars.copy_context().run, func, *args)
    return await loop.run_in_executor(_stream_pool or _new_stream_pool(), call)


def stream_threads() -> int:
    """The most threads the stream pool runs at once."""
    return _stream_limit


def set_stream_threads(limit: int) -> int:
    """Let the stream pool run up to `limit` threads at once; gives the previous limit.

    Calls already waiting for a stream thread finish in the pool they were given;
    the next ones go to a pool of the new size. Raises `ValueError` unless `limit` is
    an int of at least 1.
    """
    global _stream_limit, _stream_pool
    if type(limit) is not int or limit < 1:
        raise ValueError(
            f"the stream thread limit must be an int of at least 1, not {limit!r}: "
            "pass the number of sync streams and file downloads to serve at once"
        )
    with _pool_lock:
        previous, _stream_limit = _stream_limit, limit
        old, _stream_pool = _stream_pool, None
    if old is not None:
        old.shutdown(wait=False)  # its threads finish what they were given, then exit
    return previous


# -- sync iterators -----------------------------------------------------------------------

DONE: Any = object()  # what `SyncIterator.next` gives once the iterator is exhausted


class SyncIterator:
    """A blocking iterator driven from the event loop: each `next()` runs in the stream
    pool, one at a time, and closing it never overlaps a `next()`.

    A generator cannot be closed while its `next()` runs in a thread (`ValueError:
    generator already executing`), and a `next()` cannot be interrupted. So `aclose()`,
    called while one is in flight (the client left mid-stream), only asks for the close:
    the worker thread closes the iterator as soon as that `next()` returns, its value
    dropped, and `aclose()` returns at once instead of waiting for it. Either way no
    `next()` starts after `aclose()`, and the iterator's `finally:` blocks run. An error
    raised by a close that ran after `aclose()` returned is logged to `bare.error`.
    """

    __slots__ = ("_closing", "_iterator", "_lock", "_running", "_targets")

    def __init__(self, content: Iterable[Any]) -> None:
        self._iterator: Iterator[Any] = iter(content)
        # What close() is called on, if it has one: the iterator and the iterable it came
        # from (a WSGI-style iterable with a close method, or a generator, which is both).
        self._targets = (content,) if self._iterator is content else (self._iterator, content)
        self._lock = allocate_lock()
        self._running = False  # a next() is executing in a worker thread
        self._closing = False  # aclose() was called: no next() may start

    def _next(self) -> Any:  # in a stream thread
        with self._lock:
            if self._closing:
                return DONE
            self._running = True
        try:
            return next(self._iterator, DONE)
        finally:
            with self._lock:
                self._running = False
                close_now = self._closing
            if close_now:  # aclose() came while this next() ran, and left it to us
                try:
                    self._close()
                except Exception:
                    import logging

                    logging.getLogger("bare.error").exception(
                        "closing the iterator of a stream after its client left failed"
                    )

    def _close(self) -> None:
        for target in self._targets:
            close = getattr(target, "close", None)
            if close is not None:
                close()

    async def next(self) -> Any:
        """The next item, or `DONE`."""
        return await run_in_stream_thread(self._next)

    async def aclose(self) -> None:
        """Close the iterator (and the iterable it came from), now or, if a `next()` is
        running, in its thread as soon as it returns. Closing twice does nothing."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            if self._running:
                return
        if any(hasattr(target, "close") for target in self._targets):
            await run_in_stream_thread(self._close)


# -- telling async callables apart --------------------------------------------------------


def is_async_callable(obj: Any) -> bool:
    """True for `async def` functions, partials of them and objects with `async __call__`."""
    from inspect import iscoroutinefunction

    while isinstance(obj, functools.partial):
        obj = obj.func
    return iscoroutinefunction(obj) or iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004
    )


# -- time limits --------------------------------------------------------------------------

if sys.version_info >= (3, 11):
    _TIMEOUT: Lazy[Callable[[float], Any]] = Lazy("asyncio", "timeout")

    async def within(seconds: float, operation: Awaitable[T]) -> T:
        """Await `operation` in this task for at most `seconds`; `asyncio.TimeoutError`
        after that. A cancellation of the task always goes through, unlike with
        `asyncio.wait_for` before Python 3.12, which lost one that came as the operation
        ended (tests/test_concurrency.py shows it)."""
        async with (_TIMEOUT.value or _TIMEOUT.load())(seconds):
            return await operation

else:  # Python 3.10: asyncio.timeout is new in 3.11

    async def within(seconds: float, operation: Awaitable[T]) -> T:
        """Await `operation` in this task for at most `seconds`; `asyncio.TimeoutError`
        after that. A cancellation of the task always goes through, unlike with
        `asyncio.wait_for` before Python 3.12, which lost one that came as the operation
        ended (tests/test_concurrency.py shows it)."""
        import asyncio

        task = asyncio.current_task()
        assert task is not None, "within() runs in a task"
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            return await operation
        except asyncio.CancelledError:
            if expired:  # our own cancellation: the time is up
                raise asyncio.TimeoutError from None
            raise
        finally:
            timer.cancel()
