"""Function middleware: `async def mw(request, call_next)`, as FastAPI users write them.

    async def add_header(request, call_next):
        response = await call_next(request)
        response.headers["x-served-by"] = "bare"
        return response

    app.add_middleware(FunctionMiddleware, dispatch=add_header)

How the rest of the app is run
------------------------------
`call_next(request)` has to give a response as soon as the app starts one, while the
app goes on producing the body afterwards. The usual way (Starlette's) runs the app
in a child task and passes the messages through a queue. Here the app runs **in the
middleware's own task**: its coroutine is driven step by step by `_Run`, which hands
everything the app awaits (futures, bare yields) up to the event loop unchanged, and
stops when the app's `send` hands it a message. `call_next` returns at the
`http.response.start`; each body message is fetched when the response being sent
asks for the next one, so a streaming body keeps streaming, and the app's `send`
returns only once its message has gone on (the server's backpressure reaches it, and
an error from the server's `send` is raised in the app's `send`, where it belongs).

Why not a child task:
- No task, queue or extra trip through the loop per message: the app's sends cost a
  hand-over, not a wake-up of another task.
- Exceptions and cancellation travel as they do through plain `await`s: an error the
  app raises before its response comes out of `call_next`; cancelling the request's
  task cancels what the app is waiting on, as the task itself would.
- Nothing can outlive the middleware: it returns only when the app's coroutine has
  ended, including work the app does after its last body message.

Context variables. The app runs in a copy of the context taken when `call_next` is
called (so it sees what the middleware set before), and when the app starts its
response the variables it changed are copied back into the middleware's context (so
the middleware sees what the handler set). Running the app in a context of its own
matters for streaming: a middleware that resets a variable after `call_next` returns
does not pull it from under a body that is still being produced, and a variable set
and reset by an inner middleware around the whole response is reset in the context it
was set in. A variable the app unsets is not unset in the middleware.

Apps that send from another task (bare's `StreamingResponse` under servers of ASGI
spec < 2.4, Starlette's streaming responses, anyio task groups) are served too: such a
`send` queues its message and waits on a future, and the driver, while the app's own
coroutine waits, also wakes up for those messages.

A limit of running in one task: a timeout the app sets on its task (`asyncio.timeout`)
that fires while the middleware's own code runs, between `call_next` and the moment
the response is sent, cancels the middleware's code rather than the app's.
"""

from __future__ import annotations

import inspect
import sys
import types
from asyncio import AbstractEventLoop, CancelledError, Future, current_task, get_running_loop
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextvars import Context, copy_context
from typing import Any

from .._concurrency import is_async_callable
from ..exceptions import ClientDisconnect
from ..requests import Request
from ..responses import Response
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import PATHSEND, content_length, read_path

__all__ = ["AppResponse", "CallNext", "Dispatch", "FunctionMiddleware", "check_dispatch"]

CallNext = Callable[[Request], Awaitable["AppResponse"]]
"""`call_next(request)`: run the rest of the app, get its response once it starts."""

Dispatch = Callable[[Request, CallNext], Awaitable[Any]]
"""`async def dispatch(request, call_next) -> response`."""

_OWN_TASK = object()  # who holds the last message: the app's coroutine itself
_UNSET = object()
# An eager task (3.12+) runs its first steps inside create_task: within the app's
# coroutine, but as another task. Before 3.12 no task can, and current_task() costs.
_EAGER_TASKS = sys.version_info >= (3, 12)


def check_dispatch(dispatch: object) -> None:
    """Raise `TypeError` unless `dispatch` can be a middleware function:
    `async def dispatch(request, call_next)`, returning a response."""
    if not callable(dispatch):
        raise TypeError(f"a middleware function must be callable, not {type(dispatch).__name__}")
    name = getattr(dispatch, "__qualname__", None) or type(dispatch).__name__
    if not is_async_callable(dispatch):
        raise TypeError(
            f"middleware function {name} must be async: `async def {name}(request, call_next): ...`"
        )
    try:
        signature = inspect.signature(dispatch)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise TypeError(
            f"middleware function {name}{signature} must take two arguments: (request, call_next)"
        ) from None


class FunctionMiddleware:
    """Run `dispatch(request, call_next)` around every HTTP request.

    `request` is a `bare.Request` over the request's scope. `await call_next(request)`
    runs the rest of the app and returns its response as soon as it starts: change its
    `status` or `headers` and return it (the body streams on from the app to the
    client), or return another response, which may be made from the first one's
    `body_iterator`; once it is sent, the app is cancelled if it has not finished
    sending its own. A function may also answer without calling `call_next` at all.
    Whatever `dispatch` raises goes up the stack as any middleware's error does (under
    a bare app: to its exception handlers).

    If `dispatch` reads the body (`await request.body()`), the app is handed the same
    body again. WebSocket and lifespan scopes pass through untouched.
    """

    def __init__(self, app: ASGIApp, dispatch: Dispatch) -> None:
        check_dispatch(dispatch)
        self.app = app
        self.dispatch = dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = _Call(self.app, scope, receive, send)
        try:
            response = await self.dispatch(Request(scope, receive), call.call_next)
            own = call.response
            if own is not None and response is own:
                await own(scope, receive, send)  # the app's own: stream it through
            else:
                if not callable(response):
                    raise TypeError(
                        "a middleware function must return a response (the one "
                        "call_next(request) returned, or another), not "
                        f"{type(response).__name__}"
                    )
                # The app waits, paused, while this goes out: the other response may
                # be made from its body (`body_iterator`). Then `end` finishes it.
                await response(scope, receive, send)
        except ClientDisconnect as exc:
            if exc is not call.no_response:
                await call.end(exc)
                raise
            # The app ended without a response (its client had gone): so do we.
        except BaseException as exc:
            await call.end(exc)
            raise
        await call.end(None)


class _Call:
    """One request through the middleware: `call_next`, and the app's run if it was called."""

    __slots__ = ("app", "no_response", "receive", "response", "run", "scope", "send")

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        self.run: _Run | None = None
        self.response: AppResponse | None = None
        self.no_response: ClientDisconnect | None = None

    async def call_next(self, request: Request) -> AppResponse:
        if self.run is not None:
            raise RuntimeError(
                "call_next() was already called for this request: call it once, then "
                "change or return the response it gave"
            )
        if not isinstance(request, Request):
            raise TypeError(f"call_next() takes the request, not {type(request).__name__}")
        receive = _receive_for(request, self.receive)
        run = _Run()
        app = self.app(request.scope, receive, run.send)
        run.coro = app if type(app) is types.CoroutineType else _awaiting(app)
        self.run = run
        message = await run.next()
        while message is not None and message["type"] != "http.response.start":
            # A message before the start (an extension's) is no part of the response
            # object: it goes on at once, and an error sending it goes to the app.
            error: BaseException | None = None
            try:
                await self.send(message)
            except BaseException as exc:
                error = exc
            message = await run.next(error)
        if message is None:
            self.no_response = ClientDisconnect(
                "the app returned without sending a response (its client had gone)"
            )
            raise self.no_response
        # What the app set in its context, the middleware sees from now on.
        for var, value in run.context.items():
            if var.get(_UNSET) is not value:
                var.set(value)
        response = self.response = AppResponse(run, message)
        return response

    async def end(self, error: BaseException | None) -> None:
        """Make sure the app's coroutine has ended before the middleware returns."""
        run = self.run
        if run is None or run.done:
            return
        if isinstance(error, GeneratorExit):  # our own coroutine is being closed
            run.abandon()
            return
        await run.close()


def _receive_for(request: Request, receive: Receive) -> Receive:
    """What the app reads the body from: `receive` itself, or, if the middleware read
    some of it through `request`, a replay of that first."""
    # NOTE: reads Request's private state: the middleware and the request are both
    # bare's, and looking costs nothing when the body was not touched.
    body = request._body
    if body is not None:
        messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    elif request._stream_consumed:
        if not request._disconnected:
            raise RuntimeError(
                "the middleware function read the body with request.stream(), which "
                "keeps nothing to hand on to the app: read it with await request.body()"
            )
        messages = []
    else:
        pending = request._pending
        if not pending and not request._disconnected:
            return receive  # nothing was read: the app reads from the client
        messages = list(pending or ())
    if request._disconnected:
        messages.append({"type": "http.disconnect"})

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replay


async def _awaiting(awaitable: Awaitable[None]) -> None:
    # An app may hand back any awaitable (a compiled coroutine, a future): the driver
    # needs a coroutine's send and throw.
    await awaitable


@types.coroutine
def _hand_over(run: _Run) -> Generator[Any, None, None]:
    """Where the app's `send` waits: the yield reaches `run`'s driver, not the loop."""
    yield run


class _Run:
    """The rest of the app, driven in the calling task until it sends each message.

    `next()` releases the holder of the last message (the app's coroutine waiting in
    `send`, or another task's `send` waiting on a future), with an error if passing
    that message on failed, and runs the app until it sends another message, which it
    returns, or ends (None).
    """

    __slots__ = (
        "busy",
        "closing",
        "context",
        "coro",
        "done",
        "driving",
        "error",
        "final",
        "holder",
        "interrupted",
        "loop",
        "message",
        "others",
        "task",
        "waiter",
        "waiting_on",
    )

    def __init__(self) -> None:
        self.context: Context = copy_context()
        self.loop: AbstractEventLoop = get_running_loop()
        self.coro: Any = None
        self.task: object = None  # the task driving the app right now
        self.driving = False  # True while the app's coroutine runs, inside coro.send
        self.busy = False  # a next() is in progress
        self.done = False
        self.final = False  # the last body message has been handed out
        self.error: BaseException | None = None  # to throw in when the app next runs
        self.waiting_on: Any = None  # the future the app's coroutine waits on
        self.waiter: Future[None] | None = None  # what our task waits on meanwhile
        self.holder: object = None  # who waits for the last message to be passed on
        self.message: Message | None = None  # what the app's coroutine handed over
        self.others: deque[tuple[Message, Future[None]]] = deque()  # from other tasks
        self.closing: Callable[[], BaseException] | None = None  # sends raise this now
        self.interrupted = False  # our own task was cancelled while the app ran

    # -- the app's side ---------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """The `send` the app is given."""
        closing = self.closing
        if closing is not None:
            raise closing()
        if self.driving and (not _EAGER_TASKS or current_task() is self.task):
            self.message = message
            await _hand_over(self)
            return
        # Another task of the app (a stream it spawned): queue and wait to be released.
        future: Future[None] = self.loop.create_future()
        self.others.append((message, future))
        self._wake()
        await future

    def _wake(self, _: object = None) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the driver's side ------------------------------------------------------------

    def _release(self, error: BaseException | None) -> None:
        holder = self.holder
        if holder is None:
            return
        self.holder = None
        if holder is _OWN_TASK:
            self.error = error  # raised from its send when it next runs, or None
            return
        future: Future[None] = holder  # type: ignore[assignment]
        if future.done():  # its task was cancelled meanwhile
            return
        if error is None:
            future.set_result(None)
        elif isinstance(error, CancelledError):
            future.cancel()
        else:
            future.set_exception(error)

    @types.coroutine
    def next(self, error: BaseException | None = None) -> Generator[Any, Any, Message | None]:
        """Release the last message's sender (with `error` if passing it on failed),
        then run the app to its next message; None once it has ended."""
        if self.busy:
            raise RuntimeError("the app's response is already being read by another task")
        self._release(error)
        self.busy = True
        if _EAGER_TASKS:
            self.task = current_task()
        try:
            message = yield from self._advance()
        finally:
            self.busy = False
        if message is not None:
            kind = message.get("type")
            # The response is complete with its last body message, or with a file that
            # the server sends by path.
            if (kind == "http.response.body" and not message.get("more_body", False)) or (
                kind == PATHSEND
            ):
                self.final = True
        return message

    def _advance(self) -> Generator[Any, Any, Message | None]:
        others = self.others
        while True:
            while others:
                message, future = others.popleft()
                if not future.done():  # else its sender was cancelled: it was not sent
                    self.holder = future
                    return message
            if self.done:
                return None
            waiting_on = self.waiting_on
            if waiting_on is not None:
                if not waiting_on.done():
                    # Wait for what the app waits on, or for a message from another
                    # task of the app, whichever comes first.
                    waiter = self.waiter = self.loop.create_future()
                    try:
                        yield from waiter
                    except GeneratorExit:
                        self.abandon()
                        raise
                    except BaseException as exc:
                        # Cancelled: as a task would, cancel what the app waits on, and
                        # let the app see it there; else the app gets it right away.
                        if isinstance(exc, CancelledError):
                            self.interrupted = True
                            if waiting_on.cancel(*exc.args):
                                continue
                        self.error = exc
                    finally:
                        self.waiter = None
                    if self.error is None:
                        continue
                self.waiting_on = None
            error = self.error
            self.error = None
            self.driving = True
            try:
                if error is None:
                    signal = self.context.run(self.coro.send, None)
                else:
                    signal = self.context.run(self.coro.throw, error)
            except StopIteration:
                self.done = True
                return None
            except BaseException:
                self.done = True
                raise
            finally:
                self.driving = False
            if signal is self:  # the app's send, from its own coroutine
                self.holder = _OWN_TASK
                handed: Message | None = self.message
                return handed
            if signal is None:  # a bare yield (asyncio.sleep(0)): let the loop turn once
                try:
                    yield None
                except GeneratorExit:
                    self.abandon()
                    raise
                except BaseException as exc:
                    if isinstance(exc, CancelledError):
                        self.interrupted = True
                    self.error = exc
            elif getattr(signal, "_asyncio_future_blocking", False):
                # A future awaited: what a task does with it, we do.
                signal._asyncio_future_blocking = False
                signal.add_done_callback(self._wake)
                self.waiting_on = signal
            else:
                self.error = RuntimeError(f"the app yielded {signal!r}, which is not a future")

    async def close(self) -> None:
        """End the run early: an app whose response is complete finishes its work with
        its sends refused; any other is cancelled. Returns once the app has ended."""
        if self.done:
            return
        self.interrupted = False
        if self.final:
            self.closing = _after_response
            self._release(None)
        else:
            self.closing = CancelledError
            self._release(CancelledError())
            waiting_on = self.waiting_on
            if waiting_on is not None and not waiting_on.done():
                if not waiting_on.cancel():
                    self.error = CancelledError()
            elif self.error is None:
                self.error = CancelledError()
        while self.others:
            _, future = self.others.popleft()
            if future.done():
                continue
            if self.final:
                future.set_exception(_after_response())
            else:
                future.cancel()
        try:
            while await self.next() is not None:  # pragma: no cover - sends are refused
                pass
        except CancelledError:
            if self.interrupted or self.closing is not CancelledError:
                raise  # our own task is being cancelled, not just the app

    def abandon(self) -> None:
        """Close the app's coroutine at once (ours is being closed: nothing can be awaited)."""
        if not self.done:
            self.done = True
            self.context.run(self.coro.close)


def _after_response() -> BaseException:
    return RuntimeError("the app sent a message after its response was complete")


class AppResponse(Response):
    """The response `call_next` returns: the app's status and headers, to read and
    change, and its body, which streams from the app when the response is sent.

    `body_iterator` yields the body's chunks as the app sends them; reading it consumes
    them (to change the body, read it and return a new response). A file the app hands
    to the server by path (`http.response.pathsend`) is read for it, in chunks. Made
    by `call_next` only.
    """

    def __init__(self, run: _Run, start: Message) -> None:
        # NOTE: Response.__init__ is skipped on purpose: nothing is rendered here.
        self._run = run
        self._start = start
        self._status = start["status"]
        # A copy: the app's list may be shared (a module-level response's headers).
        self.raw_headers = [(name, value) for name, value in start.get("headers", ())]

    @property
    def body_iterator(self) -> AsyncIterator[bytes]:
        """The body's chunks as the app sends them (`async for chunk in ...`)."""
        return _BodyIterator(self._run, self._start)

    @property
    def body(self) -> bytes:
        raise AttributeError(
            "the body of the response from call_next() streams from the app: read it "
            "with `async for chunk in response.body_iterator`"
        )

    @body.setter
    def body(self, value: bytes) -> None:
        raise AttributeError(
            "the body of the response from call_next() cannot be replaced: return a "
            "new response with the body you want"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.started:
            raise RuntimeError("the response from call_next() can be sent only once")
        self.started = True
        run = self._run
        finished_before = run.final  # body_iterator took the last body message
        error: BaseException | None = None
        try:
            await send({**self._start, "status": self._status, "headers": self.raw_headers})
        except BaseException as exc:  # raised in the app's send, where it was called
            error = exc
        while (message := await run.next(error)) is not None:
            error = None
            try:
                await send(message)
            except BaseException as exc:
                error = exc
        if finished_before and error is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class _BodyIterator:
    """`response.body_iterator`: the body's chunks, as the app sends them."""

    __slots__ = ("_file", "_run", "_start")

    def __init__(self, run: _Run, start: Message) -> None:
        self._run = run
        self._start = start
        self._file: AsyncGenerator[bytes, None] | None = None  # a file sent by path

    def __aiter__(self) -> _BodyIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._file is not None:
            return await self._next_of(self._file)
        run = self._run
        while not run.final:
            message = await run.next()
            if message is None:
                break
            kind = message["type"]
            if kind == "http.response.body":
                chunk: bytes = message.get("body", b"")
                if chunk:
                    return chunk
            elif kind == PATHSEND:
                file = self._file = read_path(message["path"], content_length(self._start))
                return await self._next_of(file)
        raise StopAsyncIteration

    async def _next_of(self, file: AsyncGenerator[bytes, None]) -> bytes:
        try:
            return await file.__anext__()
        except BaseException:
            # The end of the file, or an error reading it: either way it is done.
            self._file = None
            await file.aclose()
            raise
