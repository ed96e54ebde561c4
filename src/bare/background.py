"""Work to do after the response is sent: `BackgroundTask` and `BackgroundTasks`.

    return JSONResponse(user, background=BackgroundTask(send_welcome_mail, user["email"]))

or, from anywhere the request is at hand, `request.add_background_task(fn, *args)`.
See docs/background-tasks.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec

from ._concurrency import is_async_callable, run_in_threadpool
from .requests import REQUEST_ID_KEY

if TYPE_CHECKING:
    from .types import Scope

__all__ = ["BackgroundTask", "BackgroundTasks"]

P = ParamSpec("P")

logger = logging.getLogger("bare.background")


class BackgroundTask:
    """`func(*args, **kwargs)`, to run once the response has been sent.

    A coroutine function is awaited on the event loop; a plain function runs in the
    thread pool of sync handlers, so it may block. `await task()` runs it now (an
    exception propagates to the caller).
    """

    __slots__ = ("args", "func", "is_async", "kwargs")

    def __init__(self, func: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        if not callable(func):
            raise TypeError(f"a background task runs a function, not {func!r}")
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"<BackgroundTask {_name(self.func)}>"


class BackgroundTasks(BackgroundTask):
    """Several tasks, run one after the other in the order they were added.

    Each runs whatever happened to the one before: a task that raises is logged (logger
    `bare.background`) and the next one still runs. Pass it where one task goes
    (`background=tasks`).
    """

    __slots__ = ("tasks",)

    def __init__(self, tasks: Iterable[BackgroundTask] | None = None) -> None:
        self.tasks: list[BackgroundTask] = []
        for task in tasks or ():
            self.tasks.append(_checked(task))

    def add_task(self, func: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Add `func(*args, **kwargs)` after the tasks already there."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        await run_tasks(self, None)

    def __repr__(self) -> str:
        return f"<BackgroundTasks {[_name(task.func) for task in _each(self)]}>"


def _checked(task: Any) -> BackgroundTask:
    if not isinstance(task, BackgroundTask):
        raise TypeError(
            f"BackgroundTasks holds BackgroundTask objects, not {task!r}: "
            "wrap the function, BackgroundTask(func, *args), or use add_task(func, *args)"
        )
    return task


def check_background(background: Any) -> Any:
    """`background` if a response can run it once sent (`TypeError` otherwise): a
    `BackgroundTask`, or an object called without arguments and awaited, such as
    another framework's background task."""
    if isinstance(background, BackgroundTask) or is_async_callable(background):
        return background
    hint = f": wrap it, BackgroundTask({_name(background)}, *args)" if callable(background) else ""
    raise TypeError(
        "background= takes a bare.background.BackgroundTask (or BackgroundTasks), "
        f"not {background!r}{hint}"
    )


def _each(task: BackgroundTask) -> list[BackgroundTask]:
    """The single tasks in `task`, nested `BackgroundTasks` flattened, in order."""
    if not isinstance(task, BackgroundTasks):
        return [task]
    found: list[BackgroundTask] = []
    pending = [iter(task.tasks)]
    while pending:  # depth-first without recursion: nesting has no limit
        for item in pending[-1]:
            if isinstance(item, BackgroundTasks):
                pending.append(iter(item.tasks))
                break
            found.append(item)
        else:
            pending.pop()
    return found


async def run_tasks(background: Any, scope: Scope | None) -> None:
    """Run `background` (a task, tasks, or any zero-argument async callable) after the
    response to the request of `scope`, each task on its own: an exception is logged
    with the request it followed, never raised, and the next task runs."""
    tasks = _each(background) if isinstance(background, BackgroundTask) else [background]
    for task in tasks:
        try:
            await task()
        except Exception as exc:
            _log_failure(task, scope, exc)


def _log_failure(task: Any, scope: Scope | None, exc: Exception) -> None:
    name = _name(task.func) if isinstance(task, BackgroundTask) else _name(task)
    if scope is None:
        logger.error("background task %s failed", name, exc_info=exc)
        return
    method, path = scope.get("method"), scope.get("path")
    request_id = scope.get(REQUEST_ID_KEY)
    # %r: the path and the id come from the client, and must not forge log lines.
    logger.error(
        "background task %s failed after %s %r (request id %r)",
        name,
        method,
        path,
        request_id,
        exc_info=exc,
        extra={"method": method, "path": path, "request_id": request_id},
    )


def _name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__
