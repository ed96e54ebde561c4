"""Reading a typed handler's signature, once, into a `HandlerPlan`: where each parameter
comes from, what type it has, which dependencies run, what the response is encoded as.

The plan is plain data: `bare._injection` builds the per-request callable from it, and
`bare.openapi` documents the route from it. Every mistake is refused here, at
registration, with a message that names the route, the handler, the parameter and
the fix. See docs/typed.md.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._typeinfo import (
    Injected,
    agrees,
    base_type,
    callable_name,
    dependency_kind,
    has_custom_type,
    injected_kind,
    is_pydantic,
    is_scalar_info,
    is_upload,
    is_upload_list,
    mentions_model,
    mentions_pydantic,
    split_annotated,
    type_hints,
    type_name,
    with_metadata,
    without_none,
    without_responses,
)
from .params import (
    REQUIRED,
    BodyParam,
    Dependency,
    FileParam,
    FormParam,
    HeaderParam,
    Marker,
    Param,
)
from .routing import RegistrationError

__all__ = [
    "BodyPlan",
    "DependencyPlan",
    "FormFieldPlan",
    "HandlerPlan",
    "ParamPlan",
    "RegistrationError",
    "RouteFacts",
    "analyse",
    "analyse_dependency",
    "converter_type",
    "iter_plans",
]

Location = Literal["path", "query", "header", "cookie"]

MISSING_MSGSPEC = (
    "typed handlers need msgspec: pip install msgspec "
    "(or, in a checkout of bare, pip install '.[typed]')"
)


@dataclass(frozen=True, slots=True)
class ParamPlan:
    """One value (or list of values) read from the path, query, headers or cookies."""

    name: str  # the Python parameter name
    location: Location
    alias: str  # the name on the wire (header names lower-case)
    annotation: Any  # the type, with its msgspec.Meta (constraints, docs) in Annotated
    required: bool
    default: Any  # meaningful when not required
    marker: Param | None  # the Query()/Path()/Header()/Cookie() given, for docs
    is_list: bool = False  # reads every value (`?tag=a&tag=b`), not the first


@dataclass(frozen=True, slots=True)
class FormFieldPlan:
    """One field of a form body, spread as a parameter."""

    name: str
    alias: str
    annotation: Any
    required: bool
    default: Any
    is_file: bool
    is_list: bool
    marker: FormParam | None


@dataclass(frozen=True, slots=True)
class BodyPlan:
    """The request body, for the whole dependency tree of the route.

    `name` is the parameter that takes the whole body; None when the body is an
    object whose fields are parameters (several body parameters, `embed=True`, or
    form fields), and then `annotation` is a synthetic msgspec Struct of them all (form
    files in it as `bytes`; `fields` says which are files).
    """

    name: str | None
    annotation: Any
    media_type: str
    required: bool
    marker: BodyParam | None
    fields: tuple[FormFieldPlan, ...] = ()
    default: Any = None  # the whole body's default, when not required


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    """One `Depends(...)`: the callable as written (overrides are looked up per
    request), its own plan, and how it runs."""

    call: Callable[..., Any]
    plan: HandlerPlan
    use_cache: bool
    scope: Literal["request", "function"]
    is_generator: bool
    is_async: bool
    name: str | None = None  # the parameter it fills; None for route-level dependencies


@dataclass(frozen=True, slots=True)
class HandlerPlan:
    """What a handler (or a dependency) takes and gives."""

    call: Callable[..., Any]
    parameters: tuple[ParamPlan, ...]  # this callable's own request parameters
    body: BodyPlan | None  # the request's body (on a dependency: None)
    dependencies: tuple[DependencyPlan, ...]  # sub-dependencies, in order
    all_parameters: tuple[ParamPlan, ...]  # over the whole tree, one per (location, alias)
    response_model: Any | None  # from response_model= or the return annotation
    status_code: int  # 200 unless status_code=
    # For the runtime: parameters injected by type, and those read from the body
    # (parameter name, key of the body's values; key "" for the whole body).
    injected: tuple[tuple[str, Injected], ...] = ()
    body_arguments: tuple[tuple[str, str], ...] = ()


# -- the route a handler is analysed for -------------------------------------------------


@dataclass(frozen=True)
class RouteFacts:
    """What the analysis needs to know about the route."""

    label: str  # "route '/items/{item_id}' (GET)", for messages
    path_types: Mapping[str, Any]  # path parameter -> the converter's type (None: custom)
    path_converters: Mapping[str, str]  # path parameter -> the converter's name
    methods: tuple[str, ...]
    websocket: bool = False


_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})

# The type each built-in converter gives; None: a custom converter, value as it is.
_CONVERTER_TYPES: dict[str, Any] = {
    "str": str,
    "slug": str,
    "path": str,
    "int": int,
    "float": float,
}


def converter_type(name: str) -> Any:
    """The Python type the path converter `name` produces (None if unknown)."""
    if name == "uuid":
        from uuid import UUID

        return UUID
    return _CONVERTER_TYPES.get(name)


# -- the analysis ------------------------------------------------------------------------


def analyse(
    call: Callable[..., Any],
    route: RouteFacts,
    *,
    dependencies: Iterable[Dependency] = (),
    response_model: Any = ...,
    status_code: int | None = None,
    connection: str | None = None,
) -> HandlerPlan:
    """The plan of handler `call` on `route`; `RegistrationError` (a `TypeError`) for a
    parameter that cannot be served, naming it and the fix. `connection` names the
    parameter that takes the request (or WebSocket) whatever its annotation: that of
    a plain handler made typed by a route option."""
    msgspec = _msgspec()
    analyser = _Analyser(route, msgspec)
    plan = analyser.callable_plan(call, (), tuple(dependencies), connection)
    if response_model is ...:
        response_model = analyser.return_model(call)
    elif response_model is not None:
        analyser.check_model(call, "response_model=", response_model)
    body = analyser.body_plan(call)
    return dataclasses.replace(
        plan,
        body=body,
        all_parameters=tuple(analyser.parameters.values()),
        response_model=response_model,
        status_code=200 if status_code is None else status_code,
    )


def analyse_dependency(call: Callable[..., Any], route: RouteFacts) -> HandlerPlan:
    """The plan of a dependency override, on its own (its body parameters are refused:
    the body was decided with the route)."""
    analyser = _Analyser(route, _msgspec())
    plan = analyser.callable_plan(call, (), ())
    if analyser.bodies:
        name = next(iter(analyser.bodies))
        raise analyser.error(call, name, "an override cannot read the body", "drop it")
    return dataclasses.replace(plan, all_parameters=tuple(analyser.parameters.values()))


def _msgspec() -> Any:
    try:
        import msgspec
    except ImportError:
        raise ImportError(MISSING_MSGSPEC) from None
    return msgspec


@dataclass
class _BodyArgument:
    """A body parameter found while walking the tree."""

    owner: Callable[..., Any]
    name: str
    alias: str
    annotation: Any
    required: bool
    default: Any
    marker: BodyParam | None
    kind: Literal["json", "bytes", "str", "form", "file", "form_model"]
    is_list: bool = False


class _Analyser:
    """Walks a handler and its dependencies, collecting request parameters and body
    parameters over the whole tree."""

    def __init__(self, route: RouteFacts, msgspec: Any) -> None:
        self.route = route
        self.msgspec = msgspec
        self.parameters: dict[tuple[str, str], ParamPlan] = {}
        self.owners: dict[tuple[str, str], Callable[..., Any]] = {}
        self.bodies: dict[str, _BodyArgument] = {}

    # -- messages -----------------------------------------------------------------

    def error(
        self, call: Callable[..., Any], parameter: str | None, problem: str, fix: str
    ) -> RegistrationError:
        where = f"{self.route.label}, handler {callable_name(call)}"
        if parameter is not None:
            where += f", parameter {parameter!r}"
        return RegistrationError(f"{where}: {problem}; {fix}")

    # -- one callable -------------------------------------------------------------

    def callable_plan(
        self,
        call: Callable[..., Any],
        stack: tuple[Callable[..., Any], ...],
        extra: tuple[Dependency, ...],
        connection: str | None = None,
    ) -> HandlerPlan:
        for index, seen in enumerate(stack):
            if seen is call:
                cycle = " -> ".join(callable_name(c) for c in (*stack[index:], call))
                raise self.error(stack[0], None, f"dependency cycle {cycle}", "break the cycle")
        stack = (*stack, call)
        signature, hints = self.signature(call)
        parameters: list[ParamPlan] = []
        dependencies = [self.dependency(call, None, marker, stack) for marker in extra]
        injected: list[tuple[str, Injected]] = []
        body_arguments: list[tuple[str, str]] = []
        for parameter in signature.parameters.values():
            name = parameter.name
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise self.error(
                    call, name, "*args and **kwargs cannot be filled", "declare each parameter"
                )
            if parameter.kind is parameter.POSITIONAL_ONLY:
                raise self.error(
                    call, name, "positional-only parameters cannot be filled", "drop the `/`"
                )
            if name == connection:
                injected.append((name, "websocket" if self.route.websocket else "request"))
                continue
            raw = hints.get(name, parameter.annotation)
            annotation, metadata = split_annotated(raw)
            marker, default = self.marker_and_default(call, name, metadata, parameter.default)
            if isinstance(marker, Dependency):
                dependencies.append(self.dependency(call, name, marker, stack, annotation))
                continue
            what = None if marker is not None else injected_kind(annotation)
            if what is not None:
                if self.route.websocket and what == "background_tasks":
                    raise self.error(
                        call, name, "a WebSocket handler has no background tasks", "drop it"
                    )
                if (what == "request") if self.route.websocket else (what == "websocket"):
                    kind = "a WebSocket" if self.route.websocket else "an HTTP"
                    wanted = "WebSocket" if self.route.websocket else "Request"
                    raise self.error(
                        call,
                        name,
                        f"{kind} route gets no {what}",
                        f"annotate it {wanted} (or HTTPConnection, which both routes give)",
                    )
                injected.append((name, what))
                continue
            if (
                raw is inspect.Parameter.empty
                and marker is None
                and name in ("request", "websocket")
            ):
                raise self.error(
                    call,
                    name,
                    f"an unannotated {name!r} would be a query parameter",
                    f"annotate it `{name}: {'Request' if name == 'request' else 'WebSocket'}` "
                    "to have it injected",
                )
            found = self.parameter(call, name, raw, annotation, metadata, marker, default)
            if isinstance(found, ParamPlan):
                parameters.append(found)
            else:
                body_arguments.append((name, found.alias))
        return HandlerPlan(
            call=call,
            parameters=tuple(parameters),
            body=None,
            dependencies=tuple(dependencies),
            all_parameters=(),
            response_model=None,
            status_code=200,
            injected=tuple(injected),
            body_arguments=tuple(body_arguments),
        )

    def signature(self, call: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
        if not callable(call):
            raise self.error(call, None, f"{call!r:.60} is not callable", "give a function")
        try:
            signature = inspect.signature(call)
        except (TypeError, ValueError) as exc:
            raise self.error(
                call, None, f"its signature cannot be read ({exc})", "use a function"
            ) from None
        target = call
        if inspect.isclass(call):
            target = call.__init__
        elif not (inspect.isfunction(call) or inspect.ismethod(call)):
            target = getattr(call, "func", None) or type(call).__call__
        target = inspect.unwrap(target)
        try:
            hints = type_hints(target)
        except Exception as exc:
            raise self.error(
                call,
                None,
                f"its annotations cannot be resolved ({type(exc).__name__}: {exc})",
                "import the names they use at module level",
            ) from None
        hints.pop("return", None)
        return signature, hints

    def marker_and_default(
        self, call: Callable[..., Any], name: str, metadata: list[Any], default: Any
    ) -> tuple[Marker | Dependency | None, Any]:
        """The parameter's marker (from Annotated or the default) and its default."""
        ours = [m for m in metadata if isinstance(m, (Marker, Dependency))]
        if len(ours) > 1:
            raise self.error(call, name, "more than one marker in Annotated", "keep one")
        if default is inspect.Parameter.empty:
            default = REQUIRED
        if isinstance(default, (Marker, Dependency)):
            if ours:
                raise self.error(
                    call, name, "a marker in Annotated and another as default", "keep one"
                )
            if isinstance(default, Dependency):
                return default, REQUIRED
            return default, default.default
        if not ours:
            return None, default
        marker = ours[0]
        if isinstance(marker, Marker) and marker.default is not REQUIRED:
            raise self.error(
                call,
                name,
                "a default inside Annotated[..., Marker(default)]",
                f"write it after the annotation: {name}: Annotated[...] = {marker.default!r}",
            )
        if isinstance(marker, Dependency) and default is not REQUIRED:
            raise self.error(call, name, "a dependency with a default", "drop the default")
        return marker, default

    # -- dependencies ----------------------------------------------------------------

    def dependency(
        self,
        owner: Callable[..., Any],
        name: str | None,
        marker: Dependency,
        stack: tuple[Callable[..., Any], ...],
        annotation: Any = None,
    ) -> DependencyPlan:
        call = marker.dependency
        if call is None:
            if not inspect.isclass(annotation) or annotation is Any:
                raise self.error(
                    owner,
                    name,
                    "Depends() without a callable needs a class annotation",
                    "write Depends(function)",
                )
            call = annotation
        try:
            hash(call)  # the key of its value in a request, and of its override
        except TypeError:
            raise self.error(
                owner,
                name,
                f"dependency {callable_name(call)} cannot be hashed",
                "make it hashable (a dataclass: frozen=True or eq=False; or define __hash__)",
            ) from None
        plan = self.callable_plan(call, stack, ())
        is_generator, is_async = dependency_kind(call)
        return DependencyPlan(
            call=call,
            plan=plan,
            use_cache=marker.use_cache,
            scope=marker.scope,
            is_generator=is_generator,
            is_async=is_async,
            name=name,
        )

    # -- request parameters ------------------------------------------------------------

    def parameter(
        self,
        call: Callable[..., Any],
        name: str,
        raw: Any,
        annotation: Any,
        metadata: list[Any],
        marker: Marker | None,
        default: Any,
    ) -> ParamPlan | _BodyArgument:
        unannotated = raw is inspect.Parameter.empty
        route = self.route
        if isinstance(marker, BodyParam):
            return self.body_argument(call, name, annotation, metadata, marker, default)
        if marker is None:
            if name in route.path_types:
                marker_location: Location = "path"
            elif not unannotated and is_upload(annotation):
                return self.body_argument(call, name, annotation, metadata, None, default)
            elif unannotated or self.is_scalar(annotation) or self.is_scalar_list(annotation):
                marker_location = "query"
            elif route.websocket:
                raise self.error(
                    call,
                    name,
                    f"type {type_name(annotation)} would be a body",
                    "a WebSocket has no body: use Query() or Depends()",
                )
            else:
                return self.body_argument(call, name, annotation, metadata, None, default)
        elif isinstance(marker, Param):
            marker_location = marker.location
        else:  # a bare Marker(): not one of the public markers
            raise self.error(
                call, name, f"{marker!r} says nowhere to read it from", "use Query(), Header()..."
            )
        alias = self.alias(name, marker)
        if marker_location == "path":
            return self.path_parameter(
                call, name, alias, raw, annotation, metadata, marker, default
            )
        if marker_location == "query" and alias in route.path_types and marker is not None:
            raise self.error(
                call, name, f"{alias!r} is a path parameter of the route", "use Path() or rename it"
            )
        if unannotated:
            annotation = str
        is_list = self.is_scalar_list(annotation)
        if not (is_list or self.is_scalar(annotation)):
            raise self.error(
                call,
                name,
                f"a {marker_location} parameter of type {type_name(annotation)} cannot be read",
                "use a scalar (str, int, float, bool, Enum, UUID, date...) or a list of them",
            )
        required = default is REQUIRED
        plan = ParamPlan(
            name=name,
            location=marker_location,
            alias=alias,
            annotation=self.with_meta(call, name, annotation, metadata, marker),
            required=required,
            default=None if required else default,
            marker=marker if isinstance(marker, Param) else None,
            is_list=is_list,
        )
        return self.add_parameter(call, plan)

    def alias(self, name: str, marker: Marker | None) -> str:
        if isinstance(marker, HeaderParam):
            alias = marker.alias or (name.replace("_", "-") if marker.convert_underscores else name)
            return alias.lower()
        return marker.alias if marker is not None and marker.alias else name

    def path_parameter(
        self,
        call: Callable[..., Any],
        name: str,
        alias: str,
        raw: Any,
        annotation: Any,
        metadata: list[Any],
        marker: Marker | None,
        default: Any,
    ) -> ParamPlan:
        route = self.route
        if alias not in route.path_types:
            known = ", ".join(route.path_types) or "none"
            raise self.error(
                call,
                name,
                f"the route has no path parameter {alias!r} (it has: {known})",
                "add it to the pattern or use Query()",
            )
        if default is not REQUIRED:
            raise self.error(call, name, "a path parameter always has a value", "drop its default")
        converted = route.path_types[alias]
        converter = route.path_converters[alias]
        if raw is inspect.Parameter.empty:
            annotation = converted if converted is not None else Any
        elif converter != "str" and converted is not None and not agrees(annotation, converted):
            raise self.error(
                call,
                name,
                f"the pattern says {{{alias}:{converter}}} but it is annotated "
                f"{type_name(annotation)}",
                f"change one: {{{alias}}} with {name}: {type_name(annotation)}, or "
                f"{name}: {type_name(converted)}",
            )
        elif not self.is_scalar(annotation) and converted is not None:
            raise self.error(
                call,
                name,
                f"a path parameter of type {type_name(annotation)} cannot be read",
                "use a scalar (str, int, float, UUID, Enum...)",
            )
        plan = ParamPlan(
            name=name,
            location="path",
            alias=alias,
            annotation=self.with_meta(call, name, annotation, metadata, marker),
            required=True,
            default=None,
            marker=marker if isinstance(marker, Param) else None,
        )
        return self.add_parameter(call, plan)

    def add_parameter(self, call: Callable[..., Any], plan: ParamPlan) -> ParamPlan:
        key = (plan.location, plan.alias)
        seen = self.parameters.get(key)
        if seen is None:
            self.parameters[key] = plan
            self.owners[key] = call
        elif (seen.annotation, seen.required, seen.default, seen.is_list) != (
            plan.annotation,
            plan.required,
            plan.default,
            plan.is_list,
        ) and not (
            seen.location == "path" and base_type(seen.annotation) == base_type(plan.annotation)
        ):
            raise self.error(
                call,
                plan.name,
                f"{plan.location} parameter {plan.alias!r} is also declared by "
                f"{callable_name(self.owners[key])}, differently",
                "declare it the same way in both (type, default, constraints)",
            )
        return plan

    def with_meta(
        self,
        call: Callable[..., Any],
        name: str,
        annotation: Any,
        metadata: list[Any],
        marker: Marker | None,
    ) -> Any:
        """`annotation` with the marker's constraints and documentation as a
        `msgspec.Meta`, and the user's own msgspec metadata kept."""
        msgspec = self.msgspec
        kept = [m for m in metadata if isinstance(m, msgspec.Meta)]
        if marker is not None:
            docs = {
                key: value
                for key, value in (
                    ("title", marker.title),
                    ("description", marker.description),
                    ("examples", marker.examples),
                )
                if value is not None
            }
            given = {**marker.constraints(), **docs}
            if given:
                try:
                    kept.append(msgspec.Meta(**given))
                except (TypeError, ValueError) as exc:
                    raise self.error(call, name, f"bad constraints ({exc})", "fix them") from None
        result = with_metadata(annotation, kept) if kept else annotation
        try:
            self.msgspec.json.Decoder(result)
        except TypeError as exc:
            raise self.error(
                call,
                name,
                f"the constraints do not fit type {type_name(annotation)} ({exc})",
                "use length limits on str and lists, bounds on numbers (on each item of "
                "a list: list[Annotated[int, msgspec.Meta(ge=1)]])",
            ) from None
        return result

    # -- types ---------------------------------------------------------------------

    def info(self, annotation: Any) -> Any:
        try:
            return self.msgspec.inspect.type_info(annotation)
        except (TypeError, ValueError):
            return None

    def is_scalar(self, annotation: Any) -> bool:
        info = self.info(annotation)
        return info is not None and is_scalar_info(self.msgspec.inspect, info)

    def is_scalar_list(self, annotation: Any) -> bool:
        info = self.info(annotation)
        if info is None:
            return False
        inspect_ = self.msgspec.inspect
        if isinstance(info, inspect_.UnionType):  # `list[str] | None`
            others = [t for t in info.types if not isinstance(t, inspect_.NoneType)]
            if len(others) != 1:
                return False
            info = others[0]
        sequences = (
            inspect_.ListType,
            inspect_.SetType,
            inspect_.FrozenSetType,
            inspect_.VarTupleType,
        )
        return isinstance(info, sequences) and is_scalar_info(inspect_, info.item_type)

    def check_model(self, call: Callable[..., Any], what: str, annotation: Any) -> None:
        if mentions_pydantic(annotation):
            import pydantic

            try:
                pydantic.TypeAdapter(annotation)
            except Exception as exc:
                raise self.error(
                    call,
                    None,
                    f"{what} {type_name(annotation)} is not a pydantic type ({exc})",
                    "use a model, or a list of models",
                ) from None
            return
        info = self.info(annotation)
        if info is None or has_custom_type(self.msgspec.inspect, info):
            raise self.error(
                call,
                None,
                f"{what} {type_name(annotation)} cannot be encoded or decoded",
                "use a msgspec Struct, a dataclass, a TypedDict, a pydantic model, "
                "or builtins (and lists of them)",
            )

    def return_model(self, call: Callable[..., Any]) -> Any:
        """The return annotation when it is a model (or a list of them), else None."""
        target = call.__init__ if inspect.isclass(call) else call
        try:
            hints = type_hints(inspect.unwrap(target))
        except Exception:
            return None
        returned = hints.get("return")
        if returned is not None:
            returned = without_responses(returned)
        if returned is None or not mentions_model(returned):
            return None
        self.check_model(call, "the return annotation", returned)
        return returned

    # -- the body ------------------------------------------------------------------

    def body_argument(
        self,
        call: Callable[..., Any],
        name: str,
        annotation: Any,
        metadata: list[Any],
        marker: BodyParam | None,
        default: Any,
    ) -> _BodyArgument:
        if self.route.websocket:
            raise self.error(
                call, name, "a WebSocket handler has no body", "use Query() or Depends()"
            )
        alias = marker.alias if marker is not None and marker.alias else name
        kind: Literal["json", "bytes", "str", "form", "file", "form_model"]
        is_list = False
        files = without_none(annotation)
        upload = is_upload(files) or is_upload_list(files)
        if isinstance(marker, FileParam) or (marker is None and upload):
            kind = "file"
            is_list = is_upload_list(files) or self.is_bytes_list(files)
            if not (upload or files is bytes or is_list):
                raise self.error(
                    call,
                    name,
                    f"a file of type {type_name(annotation)}",
                    "annotate it UploadFile, bytes, or a list of them",
                )
        elif isinstance(marker, FormParam):
            if upload:
                kind = "file"
                is_list = is_upload_list(files)
            elif self.is_scalar(annotation) or self.is_scalar_list(annotation):
                kind = "form"
                is_list = self.is_scalar_list(annotation)
            elif self.is_form_model(annotation):
                kind = "form_model"
            else:
                raise self.error(
                    call,
                    name,
                    f"a form field of type {type_name(annotation)}",
                    "use a scalar, a list of them, UploadFile, or a Struct/dataclass of them",
                )
        elif annotation is bytes:
            kind = "bytes"
        elif annotation is str and marker is not None:
            kind = "str"
        else:
            kind = "json"
            if not is_pydantic(annotation):
                info = self.info(annotation)
                if info is None or has_custom_type(self.msgspec.inspect, info):
                    raise self.error(
                        call,
                        name,
                        f"type {type_name(annotation)} is not supported",
                        "use a scalar, a msgspec Struct, a dataclass, a TypedDict or a "
                        "pydantic model (or lists of them), or Depends() for other values",
                    )
        bodyless = [m for m in self.route.methods if m in _BODYLESS]
        if bodyless and len(bodyless) == len(self.route.methods):
            raise self.error(
                call,
                name,
                f"a body on {'/'.join(bodyless)} (type {type_name(annotation)})",
                "answer POST, PUT or PATCH, or read it with Query() / Depends()",
            )
        argument = _BodyArgument(
            owner=call,
            name=name,
            alias=alias,
            annotation=annotation
            if kind in ("file", "form_model") or is_pydantic(annotation)
            else self.with_meta(call, name, annotation, metadata, marker),
            required=default is REQUIRED,
            default=None if default is REQUIRED else default,
            marker=marker,
            kind=kind,
            is_list=is_list,
        )
        seen = self.bodies.get(alias)
        if seen is not None and (seen.annotation, seen.kind, seen.required) != (
            argument.annotation,
            argument.kind,
            argument.required,
        ):
            raise self.error(
                call,
                name,
                f"body field {alias!r} is also declared by {callable_name(seen.owner)}, "
                "differently",
                "declare it the same way in both",
            )
        self.bodies.setdefault(alias, argument)
        return argument

    def is_bytes_list(self, annotation: Any) -> bool:
        return typing.get_origin(annotation) is list and typing.get_args(annotation) == (bytes,)

    def is_form_model(self, annotation: Any) -> bool:
        info = self.info(annotation)
        inspect_ = self.msgspec.inspect
        return isinstance(
            info, (inspect_.StructType, inspect_.DataclassType, inspect_.TypedDictType)
        )

    def body_plan(self, handler: Callable[..., Any]) -> BodyPlan | None:
        """The request body of the whole tree, from the body parameters found."""
        arguments = list(self.bodies.values())
        if not arguments:
            return None
        kinds = {a.kind for a in arguments}
        if kinds & {"form", "file", "form_model"}:
            if kinds - {"form", "file", "form_model"}:
                json_one = next(
                    a for a in arguments if a.kind not in ("form", "file", "form_model")
                )
                raise self.error(
                    json_one.owner,
                    json_one.name,
                    "a JSON body and form fields in one request",
                    "read them all as Form() fields, or all as the JSON body",
                )
            return self.form_plan(handler, arguments)
        embed = len(arguments) > 1 or any(
            a.marker is not None and a.marker.embed for a in arguments
        )
        if embed:  # a `str` among several body parameters is a field of the JSON object
            for argument in arguments:
                if argument.kind == "str":
                    argument.kind = "json"
        raw = [a for a in arguments if a.kind in ("bytes", "str")]
        if raw:
            if len(arguments) > 1:
                raise self.error(
                    raw[0].owner,
                    raw[0].name,
                    "the raw body and other body parameters",
                    "take the body once",
                )
            only = raw[0]
            default_type = "application/octet-stream" if only.kind == "bytes" else "text/plain"
            media_type = only.marker.media_type if only.marker is not None else default_type
            if media_type == "application/json":
                media_type = default_type
            return BodyPlan(
                only.name, only.annotation, media_type, only.required, only.marker, (), only.default
            )
        if not embed:
            only = arguments[0]
            media_type = only.marker.media_type if only.marker is not None else "application/json"
            return BodyPlan(
                only.name, only.annotation, media_type, only.required, only.marker, (), only.default
            )
        if any(is_pydantic(a.annotation) for a in arguments):
            first = next(a for a in arguments if is_pydantic(a.annotation))
            raise self.error(
                first.owner,
                first.name,
                "a pydantic model as one of several body fields",
                "use a msgspec Struct or a dataclass, or make it the only body parameter",
            )
        struct = self.synthetic(
            "Body", handler, [(a.alias, a.annotation, a.required, a.default) for a in arguments]
        )
        required = any(a.required for a in arguments)
        return BodyPlan(None, struct, "application/json", required, None)

    def form_plan(self, handler: Callable[..., Any], arguments: list[_BodyArgument]) -> BodyPlan:
        models = [a for a in arguments if a.kind == "form_model"]
        has_files = any(a.kind == "file" for a in arguments)
        media_type = "multipart/form-data" if has_files else "application/x-www-form-urlencoded"
        if models:
            if len(arguments) > 1:
                raise self.error(
                    models[0].owner,
                    models[0].name,
                    "a form model and other form fields",
                    "put every field in the model",
                )
            only = models[0]
            return BodyPlan(
                only.name, only.annotation, media_type, only.required, only.marker, (), only.default
            )
        fields = tuple(
            FormFieldPlan(
                name=a.name,
                alias=a.alias,
                annotation=a.annotation,
                required=a.required,
                default=a.default,
                is_file=a.kind == "file",
                is_list=a.is_list,
                marker=a.marker if isinstance(a.marker, FormParam) else None,
            )
            for a in arguments
        )
        struct = self.synthetic(
            "Form",
            handler,
            [
                (
                    f.alias,
                    (list[bytes] if f.is_list else bytes) if f.is_file else f.annotation,
                    f.required,
                    f.default,
                )
                for f in fields
            ],
        )
        return BodyPlan(None, struct, media_type, any(f.required for f in fields), None, fields)

    def synthetic(
        self, kind: str, handler: Callable[..., Any], fields: list[tuple[str, Any, bool, Any]]
    ) -> Any:
        """A msgspec Struct with these fields (name, type, required, default), named
        after the route, for the OpenAPI document and the decoding."""
        msgspec = self.msgspec
        ordered = sorted(fields, key=lambda f: not f[2])  # required fields first
        specs = [
            (name, annotation) if required else (name, annotation, default)
            for name, annotation, required, default in ordered
        ]
        # Attributes field_0, field_1...: the wire names (aliases) may be any string.
        renamed = {f"field_{i}": spec[0] for i, spec in enumerate(specs)}
        specs = [(f"field_{i}", *spec[1:]) for i, spec in enumerate(specs)]
        return msgspec.defstruct(
            _struct_name(kind, handler, self.route.label), specs, rename=renamed
        )


# -- helpers ---------------------------------------------------------------------------


def _struct_name(kind: str, handler: Callable[..., Any], label: str) -> str:
    """`Body_create_items_post`: a synthetic body's name, as FastAPI users know them."""
    words = "".join(c if c.isalnum() else " " for c in label).lower().split()[1:]
    return "_".join([kind, getattr(handler, "__name__", "handler"), *words][:12])


def iter_plans(plan: HandlerPlan) -> Iterable[HandlerPlan]:
    """`plan` and the plans of its dependencies, depth first."""
    yield plan
    for dependency in plan.dependencies:
        yield from iter_plans(dependency.plan)
