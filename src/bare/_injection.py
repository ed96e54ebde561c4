"""Serving typed handlers: the callable built once, at registration, from a `HandlerPlan`.

Per request it does only what the plan needs, in two phases:

1. read every request parameter of the dependency tree (path, query, headers,
   cookies, then the body) into one dict of values, collecting every error: any error
   is one `RequestValidationError` (422), before any dependency runs;
2. run the dependencies (cached per request, overrides looked up when the app has
   some) and the handler, then encode what it returned.

The result is a ready `Response` (or what a plain handler could return), which
`bare._endpoints.serve` sends as it sends a plain handler's. See docs/typed.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bodies import body_reader
from ._cleanups import (
    async_finisher,
    finish_function_scope,
    first_value,
    keep,
    logger,
    sync_finisher,
)
from ._concurrency import is_async_callable, run_in_threadpool
from ._encoding import responder
from ._signature import (
    DependencyPlan,
    HandlerPlan,
    ParamPlan,
    RouteFacts,
    analyse,
    analyse_dependency,
    converter_type,
)
from ._typeinfo import callable_name, converter, dependency_kind
from ._validation import missing, msgspec_error
from .exceptions import RequestValidationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._cleanups import Finish
    from ._templates import PathTemplate
    from .requests import HTTPConnection, Request
    from .routing import Route, RouteOptions, WebSocketRoute

    Reader = Callable[[Any, dict[Any, Any], list[dict[str, Any]]], None]
    Arguments = Callable[["_Context"], Awaitable[dict[str, Any]]]
    Resolve = Callable[["_Context"], Awaitable[Any]]

__all__ = ["compile_http", "compile_websocket", "route_facts"]

_MISSING: Any = object()


# -- building -----------------------------------------------------------------------------


def route_facts(template: PathTemplate, methods: tuple[str, ...], websocket: bool) -> RouteFacts:
    """What the analysis needs to know of a route: its label and path parameters."""
    from ._templates import Mixed, Param

    converters: dict[str, str] = {}
    for segment in template.segments:
        if isinstance(segment, Mixed):
            params: tuple[Param, ...] = segment.params
        else:
            params = (segment,) if isinstance(segment, Param) else ()
        for param in params:
            converters[param.name] = param.converter.name
    if websocket:
        label = f"WebSocket route {template.template!r}"
    else:
        label = f"route {template.template!r} ({', '.join(methods)})"
    return RouteFacts(
        label=label,
        path_types={name: converter_type(conv) for name, conv in converters.items()},
        path_converters=converters,
        methods=methods,
        websocket=websocket,
    )


def compile_http(
    route: Route, handler: Callable[..., Any], connection: str | None = None
) -> tuple[HandlerPlan, Callable[[Request], Awaitable[Any]]]:
    """The plan of `route`'s `handler` and the callable that serves it: `call(request)`.
    `connection`: the parameter of a plain handler (made typed by a route option),
    which takes the request."""
    options = route.options
    facts = route_facts(route.template, route.methods, False)
    plan = analyse(
        handler,
        facts,
        dependencies=options.dependencies,
        response_model=options.response_model,
        status_code=options.status_code,
        connection=connection,
    )
    return plan, _HTTPBuilder(plan, facts, options).build()


def compile_websocket(
    route: WebSocketRoute, handler: Callable[..., Any], connection: str | None = None
) -> tuple[HandlerPlan, Callable[[Any], Awaitable[Any]]]:
    """The plan of a typed WebSocket handler and `call(websocket)`, which serves it."""
    facts = route_facts(route.template, route.methods, True)
    plan = analyse(
        handler,
        facts,
        dependencies=route.dependencies,
        response_model=None,
        connection=connection,
    )
    return plan, _Builder(plan, facts).build_websocket()


class _Context:
    """One request's state while its dependencies run."""

    __slots__ = (
        "cache",
        "connection",
        "error",
        "function_exits",
        "overrides",
        "values",
        "websocket",
    )

    def __init__(
        self,
        connection: Any,
        values: dict[Any, Any],
        websocket: bool,
        overrides: dict[Any, Any] | None,
    ) -> None:
        self.connection = connection
        self.values = values
        self.cache: dict[Any, Any] = {}
        self.function_exits: list[Finish] = []
        self.error: BaseException | None = None  # what the handler raised, for cleanups
        self.websocket = websocket
        self.overrides = overrides  # the app's dependency_overrides


class _Builder:
    """Builds the readers and the dependency runners of one plan's tree."""

    def __init__(self, plan: HandlerPlan, facts: RouteFacts) -> None:
        import msgspec

        self.msgspec = msgspec
        self.plan = plan
        self.facts = facts
        # With no dependency and each parameter once, values are keyed by parameter
        # name and are the handler's keyword arguments as they are.
        self.flat = not plan.dependencies and len(plan.parameters) == len(plan.all_parameters)
        self.overrides: dict[Any, Resolve] = {}

    def key(self, location: str, alias: str, name: str) -> Any:
        return name if self.flat else (location, alias)

    def readers_for(self, readers: list[Reader]) -> Callable[[dict[Any, Any]], list[Reader]]:
        """`readers_for(overrides)`: the readers of a request while the app overrides
        dependencies. The parameters only overridden dependencies (and theirs) declare
        are not read: the replacement may not need them (a test that stubs the user
        sends no token). `readers` when none of this tree is overridden."""
        calls = {d.call for plan in _all_plans(self.plan) for d in plan.dependencies}
        pruned: dict[frozenset[Any], list[Reader]] = {}

        def current(overrides: dict[Any, Any]) -> list[Reader]:
            hit = frozenset(call for call in calls if call in overrides)
            if not hit:
                return readers
            found = pruned.get(hit)
            if found is None:
                found = pruned[hit] = self.readers(self.parameters_without(hit))
            return found

        return current

    def parameters_without(self, overridden: frozenset[Any]) -> tuple[ParamPlan, ...]:
        """The request parameters of the tree, leaving out the dependencies in
        `overridden` (and what only they lead to)."""
        kept: set[tuple[str, str]] = set()
        pending = [self.plan]
        while pending:
            plan = pending.pop()
            kept.update((p.location, p.alias) for p in plan.parameters)
            pending.extend(d.plan for d in plan.dependencies if d.call not in overridden)
        return tuple(p for p in self.plan.all_parameters if (p.location, p.alias) in kept)

    # -- phase 1: reading the request ----------------------------------------------------

    def readers(self, parameters: tuple[ParamPlan, ...]) -> list[Reader]:
        """One reader per location, in the order path, query, header, cookie."""
        found: list[Reader] = []
        for location in ("path", "query", "header", "cookie"):
            params = [p for p in parameters if p.location == location]
            if params:
                found.append(self.reader(location, params))
        return found

    def reader(self, location: str, params: list[ParamPlan]) -> Reader:
        if location == "path":
            return self.path_reader(params)
        msgspec = self.msgspec
        steps = [
            (
                self.key(p.location, p.alias, p.name),
                p.alias,
                p.is_list,
                p.required,
                p.default,
                converter(msgspec, p.annotation),
            )
            for p in params
        ]
        validation_error = msgspec.ValidationError
        is_query = location == "query"

        def read(source: Any, values: dict[Any, Any], errors: list[dict[str, Any]]) -> None:
            if is_query:
                got = source.query_params
            elif location == "header":
                got = source.headers
            else:
                got = source.cookies
            for key, alias, is_list, required, default, convert in steps:
                if is_query:
                    raw = got.get(alias)
                    if raw is not None and not is_list:
                        raw = raw[0]  # a repeated scalar: the first value, as request.query()
                elif is_list:  # a header sent several times: every value
                    raw = got.getlist(alias) or None
                else:
                    raw = got.get(alias)
                if raw is None:
                    if required:
                        errors.append(missing([location, alias]))
                    else:
                        values[key] = (
                            default.copy() if type(default) in (list, dict, set) else default
                        )
                    continue
                if convert is None:
                    values[key] = raw
                    continue
                try:
                    values[key] = convert(raw)
                except validation_error as exc:
                    errors.append(msgspec_error([location, alias], exc, raw))

        return read

    def path_reader(self, params: list[ParamPlan]) -> Reader:
        """Path parameters come converted by the router: the value is taken as it is
        when the annotation is the converter's type (or the converter is a custom
        one, whose values bare cannot know); else it is converted and checked."""
        msgspec = self.msgspec
        path_types = self.facts.path_types
        steps = []
        for p in params:
            converted = path_types.get(p.alias, str)
            as_is = converted is None or p.annotation is converted
            convert = None if as_is else converter(msgspec, p.annotation)
            steps.append((self.key("path", p.alias, p.name), p.alias, convert))
        validation_error = msgspec.ValidationError

        def read_path(source: Any, values: dict[Any, Any], errors: list[dict[str, Any]]) -> None:
            got = source.scope["path_params"]
            for key, alias, convert in steps:
                raw = got[alias]
                if convert is None:
                    values[key] = raw
                    continue
                try:
                    values[key] = convert(raw)
                except validation_error as exc:
                    errors.append(msgspec_error(["path", alias], exc, raw))

        return read_path

    # -- phase 2: running the tree -------------------------------------------------------

    def arguments(self, plan: HandlerPlan) -> Arguments:
        """Builds `plan.call`'s keyword arguments from the values of the request,
        running its dependencies."""
        keys = [(p.name, self.key(p.location, p.alias, p.name)) for p in plan.parameters]
        keys += [(name, self.key("body", alias, name)) for name, alias in plan.body_arguments]
        injected = [(name, _INJECT[what]) for name, what in plan.injected]
        dependencies = [(d.name, self.resolver(d)) for d in plan.dependencies]

        async def arguments(ctx: _Context) -> dict[str, Any]:
            values = ctx.values
            kwargs = {name: values[key] for name, key in keys}
            for name, inject in injected:
                kwargs[name] = inject(ctx.connection)
            for target, resolve in dependencies:
                value = await resolve(ctx)
                if target is not None:
                    kwargs[target] = value
            return kwargs

        return arguments

    def resolver(self, dependency: DependencyPlan) -> Resolve:
        """Runs one dependency (or its override), once per request when cached."""
        call = dependency.call
        run = self.runner(dependency.call, dependency, self.arguments(dependency.plan))
        use_cache = dependency.use_cache
        overridden = self.overridden(dependency)

        async def resolve(ctx: _Context) -> Any:
            overrides = ctx.overrides
            if overrides and call in overrides:
                return await overridden(ctx, overrides[call])
            if use_cache:
                value = ctx.cache.get(call, _MISSING)
                if value is not _MISSING:
                    return value
            value = await run(ctx)
            if use_cache:
                ctx.cache[call] = value
            return value

        return resolve

    def overridden(self, dependency: DependencyPlan) -> Callable[[_Context, Any], Awaitable[Any]]:
        """Runs the override of `dependency`, analysed the first time it is met."""
        call = dependency.call
        use_cache = dependency.use_cache

        async def run_override(ctx: _Context, replacement: Any) -> Any:
            if use_cache:
                value = ctx.cache.get(call, _MISSING)
                if value is not _MISSING:
                    return value
            run = self.overrides.get(replacement)
            if run is None:
                run = self.overrides[replacement] = self.override(replacement, dependency)
            value = await run(ctx)
            if use_cache:
                ctx.cache[call] = value
            return value

        return run_override

    def override(self, replacement: Any, dependency: DependencyPlan) -> Resolve:
        plan = analyse_dependency(replacement, self.facts)
        builder = _Builder(plan, self.facts)
        builder.flat = False
        readers = builder.readers(plan.all_parameters)
        replaced = DependencyPlan(
            replacement,
            plan,
            dependency.use_cache,
            dependency.scope,
            *dependency_kind(replacement),
            dependency.name,
        )
        run = builder.runner(replacement, replaced, builder.arguments(plan))

        async def resolve(ctx: _Context) -> Any:
            values: dict[Any, Any] = {}
            errors: list[dict[str, Any]] = []
            for read in readers:
                read(ctx.connection, values, errors)
            if errors:
                raise RequestValidationError(errors)
            # Dependencies run one after the other: the override reads its own
            # values for as long as it runs.
            saved, ctx.values = ctx.values, values
            try:
                return await run(ctx)
            finally:
                ctx.values = saved

        return resolve

    def runner(self, call: Any, dependency: DependencyPlan, arguments: Arguments) -> Resolve:
        """Calls a dependency with its arguments: awaited, in the thread pool, or
        entered up to its `yield` with its cleanup registered."""
        name = callable_name(call)
        request_scope = dependency.scope == "request"
        if dependency.is_generator and dependency.is_async:

            async def enter_async(ctx: _Context) -> Any:
                generator = call(**await arguments(ctx))
                try:
                    value = await generator.__anext__()
                except StopAsyncIteration:
                    raise RuntimeError(f"generator dependency {name} did not yield") from None
                keep(ctx, request_scope, async_finisher(generator, name), name)
                return value

            return enter_async
        if dependency.is_generator:

            async def enter_sync(ctx: _Context) -> Any:
                generator = call(**await arguments(ctx))
                value = await run_in_threadpool(first_value, generator, name)
                keep(ctx, request_scope, sync_finisher(generator, name), name)
                return value

            return enter_sync
        if dependency.is_async:

            async def call_async(ctx: _Context) -> Any:
                return await call(**await arguments(ctx))

            return call_async

        async def call_sync(ctx: _Context) -> Any:
            return await run_in_threadpool(call, **await arguments(ctx))

        return call_sync

    # -- WebSocket -----------------------------------------------------------------------

    def build_websocket(self) -> Callable[[Any], Awaitable[Any]]:
        plan = self.plan
        readers = self.readers(plan.all_parameters)
        readers_for = self.readers_for(readers)
        arguments = self.arguments(plan)
        handler = plan.call
        from ._errors import http_exception_response
        from .exceptions import HTTPException
        from .websockets import WebSocketState

        connecting = WebSocketState.CONNECTING

        async def call(websocket: Any) -> Any:
            values: dict[Any, Any] = {}
            errors: list[dict[str, Any]] = []
            overrides = getattr(websocket.scope.get("app"), "dependency_overrides", None)
            for read in readers_for(overrides) if overrides else readers:
                read(websocket, values, errors)
            if errors:
                await websocket.close(1008, _close_reason(errors))
                return None
            ctx = _Context(websocket, values, True, overrides)
            exits: list[Finish] = []
            ctx.function_exits = exits
            try:
                return await handler(**await arguments(ctx))
            except HTTPException as exc:
                ctx.error = exc
                if websocket.application_state is not connecting:
                    raise
                # Before the handshake is accepted (a dependency checking
                # credentials, say), an HTTP error refuses it with that response.
                await websocket.deny(http_exception_response(exc))
                return None
            except BaseException as exc:
                ctx.error = exc
                raise
            finally:
                # A WebSocket has no response to wait for: every cleanup runs now,
                # last entered first.
                while exits:
                    finish = exits.pop()
                    try:
                        await finish(ctx.error)
                    except Exception:
                        logger.exception(
                            "cleanup of a dependency failed in websocket %r",
                            websocket.scope.get("path"),
                        )

        call.__qualname__ = callable_name(handler)
        return call


class _HTTPBuilder(_Builder):
    """Builds `call(request)` for an HTTP route."""

    def __init__(self, plan: HandlerPlan, facts: RouteFacts, options: RouteOptions) -> None:
        super().__init__(plan, facts)
        self.options = options

    def build(self) -> Callable[[Request], Awaitable[Any]]:
        plan = self.plan
        readers = self.readers(plan.all_parameters)
        read_body = None
        if plan.body is not None:
            read_body = body_reader(self.msgspec, plan.body, self.body_keys())
        respond = responder(self.msgspec, plan, self.options.response_class)
        handler = plan.call
        is_async = is_async_callable(handler)
        injected = [(name, _INJECT[what]) for name, what in plan.injected]

        if self.flat:  # no dependency: the values are the handler's keyword arguments

            async def call_flat(request: Request) -> Any:
                values: dict[Any, Any] = {}
                errors: list[dict[str, Any]] = []
                for read in readers:
                    read(request, values, errors)
                if read_body is not None:
                    await read_body(request, values, errors)
                if errors:
                    raise RequestValidationError(errors)
                for name, inject in injected:
                    values[name] = inject(request)
                if is_async:
                    result = await handler(**values)
                else:
                    result = await run_in_threadpool(handler, **values)
                return result if respond is None else respond(result)

            call_flat.__qualname__ = callable_name(handler)
            return call_flat

        arguments = self.arguments(plan)
        readers_for = self.readers_for(readers)

        async def call(request: Request) -> Any:
            values: dict[Any, Any] = {}
            errors: list[dict[str, Any]] = []
            overrides = getattr(request.scope.get("app"), "dependency_overrides", None)
            for read in readers_for(overrides) if overrides else readers:
                read(request, values, errors)
            if read_body is not None:
                await read_body(request, values, errors)
            if errors:
                raise RequestValidationError(errors)
            ctx = _Context(request, values, False, overrides)
            try:
                kwargs = await arguments(ctx)
                if is_async:
                    result = await handler(**kwargs)
                else:
                    result = await run_in_threadpool(handler, **kwargs)
                if respond is not None:
                    result = respond(result)
            except BaseException as exc:
                ctx.error = exc
                if ctx.function_exits:
                    await finish_function_scope(ctx, exc)
                raise
            if ctx.function_exits:
                await finish_function_scope(ctx, None)
            return result

        call.__qualname__ = callable_name(handler)
        return call

    def body_keys(self) -> list[tuple[Any, str]]:
        """(key of the values, alias in the body) of each body parameter, once."""
        seen: dict[str, Any] = {}
        for plan in _all_plans(self.plan):
            for name, alias in plan.body_arguments:
                seen.setdefault(alias, self.key("body", alias, name))
        return [(key, alias) for alias, key in seen.items()]


# -- what dependencies and handlers are given by type -----------------------------------


def _state(connection: HTTPConnection) -> Any:
    app = connection.scope.get("app")
    state = getattr(app, "state", None)
    if state is None:
        raise RuntimeError("a State parameter needs the request to be served by a Bare app")
    return state


def _background_tasks(request: Any) -> Any:
    from .background import BackgroundTasks  # loaded already: the plan names it

    tasks = request._tasks
    if tasks is None:
        tasks = request._tasks = BackgroundTasks()
        request._deferred = True
    return tasks


def _itself(connection: Any) -> Any:
    return connection


_INJECT: dict[str, Callable[[Any], Any]] = {
    "request": _itself,
    "websocket": _itself,
    "connection": _itself,
    "state": _state,
    "background_tasks": _background_tasks,
}


# -- converting values -------------------------------------------------------------------


# -- pydantic bodies ---------------------------------------------------------------------


# -- the response ------------------------------------------------------------------------


# -- generator dependencies --------------------------------------------------------------


# -- helpers -----------------------------------------------------------------------------


def _all_plans(plan: HandlerPlan) -> list[HandlerPlan]:
    found = [plan]
    for dependency in plan.dependencies:
        found.extend(_all_plans(dependency.plan))
    return found


def _close_reason(errors: list[dict[str, Any]]) -> str:
    """A WebSocket close reason naming the first invalid parameter (at most 123 bytes)."""
    first = errors[0]
    location, *rest = first["loc"]
    reason = f"invalid {location} parameter {'.'.join(map(str, rest))!r}: {first['msg']}"
    encoded = reason.encode()[:123]
    return encoded.decode("utf-8", "ignore")
