"""What bare knows of types, for typed handlers: which annotations are scalars, models,
files or injected objects, and how a raw value becomes a parameter's type. Used at
registration (`bare._signature`) and to build the per-request steps (`bare._injection`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

__all__ = [
    "Injected",
    "agrees",
    "base_type",
    "bool_text",
    "callable_name",
    "converter",
    "dependency_kind",
    "has_custom_type",
    "injected_kind",
    "is_bool",
    "is_pydantic",
    "is_scalar_info",
    "is_upload",
    "is_upload_list",
    "mentions_model",
    "mentions_pydantic",
    "reads_bytes",
    "split_annotated",
    "type_name",
    "with_metadata",
    "without_none",
    "without_responses",
]

Injected = Literal["request", "websocket", "connection", "background_tasks", "state"]


def callable_name(call: Any) -> str:
    return (
        getattr(call, "__qualname__", None)
        or getattr(call, "__name__", None)
        or type(call).__name__
    )


def is_class(annotation: Any) -> bool:
    """Whether `annotation` is a class: not `list[int]` and the like, which Python 3.10
    takes for classes too (`isinstance(list[int], type)` is True there)."""
    return isinstance(annotation, type) and typing.get_origin(annotation) is None


def type_hints(target: Any) -> dict[str, Any]:
    """`typing.get_type_hints(target, include_extras=True)`, the same on every Python:
    3.10 wraps the annotation of a parameter whose default is None in `Optional[...]`,
    which would hide its `Annotated` markers (`x: Annotated[str, Query()] = None`)."""
    hints = typing.get_type_hints(target, include_extras=True)
    if sys.version_info >= (3, 11):
        return hints
    defaults = {
        name: parameter.default
        for name, parameter in _parameters(target).items()
        if parameter.default is None
    }
    for name in defaults.keys() & hints.keys():
        args = typing.get_args(hints[name])
        if typing.get_origin(hints[name]) is typing.Union and len(args) == 2 and type(None) in args:
            inner = next(a for a in args if a is not type(None))
            if typing.get_origin(inner) is Annotated:
                hints[name] = inner
    return hints


def _parameters(target: Any) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}


def type_name(annotation: Any) -> str:
    if is_class(annotation):
        return str(annotation.__qualname__)
    return repr(annotation).replace("typing.", "")


def split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """`Annotated[T, a, b]` -> (T, [a, b]); anything else -> (it, [])."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is Annotated:
        metadata.extend(annotation.__metadata__)
        annotation = annotation.__origin__
    return annotation, metadata


def with_metadata(annotation: Any, metadata: list[Any]) -> Any:
    """`Annotated[annotation, *metadata]`; for `T | None`, `Annotated[T, ...] | None`, so
    that `q: str | None = Query(None, max_length=50)` constrains the string."""
    args = typing.get_args(annotation)
    if type(None) in args and typing.get_origin(annotation) is not Annotated:
        members = tuple(a if a is type(None) else with_metadata(a, metadata) for a in args)
        return typing.Union[members]  # noqa: UP007 - built from a tuple
    arguments = (annotation, *metadata)
    return Annotated[arguments]


def base_type(annotation: Any) -> Any:
    return split_annotated(annotation)[0]


def injected_kind(annotation: Any) -> Injected | None:
    """What a parameter of this type is injected with, if it is one bare provides."""
    if not is_class(annotation):
        return None
    from .requests import HTTPConnection, Request
    from .websockets import WebSocket

    if issubclass(annotation, Request):
        return "request"
    if issubclass(annotation, WebSocket):
        return "websocket"
    if annotation is HTTPConnection:
        return "connection"
    from .datastructures import State

    if annotation is State:
        return "state"
    background = sys.modules.get("bare.background")
    if background is not None and issubclass(annotation, background.BackgroundTasks):
        return "background_tasks"
    return None


def without_none(annotation: Any) -> Any:
    """`T` for `T | None` (and `Optional[T]`), else the annotation as it is."""
    args = typing.get_args(annotation)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return annotation


def is_upload(annotation: Any) -> bool:
    forms = sys.modules.get("bare.forms")
    return forms is not None and is_class(annotation) and issubclass(annotation, forms.UploadFile)


def is_upload_list(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is list and len(args) == 1 and is_upload(args[0])


def is_pydantic(annotation: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None and is_class(annotation) and issubclass(annotation, pydantic.BaseModel)
    )


def mentions_pydantic(annotation: Any) -> bool:
    """Whether a pydantic model is in `annotation` (`list[Model]`, `Model | None`)."""
    return is_pydantic(annotation) or any(mentions_pydantic(a) for a in typing.get_args(annotation))


def is_scalar_info(inspect_: Any, info: Any) -> bool:
    scalars = (
        inspect_.IntType,
        inspect_.FloatType,
        inspect_.StrType,
        inspect_.BoolType,
        inspect_.DecimalType,
        inspect_.UUIDType,
        inspect_.DateTimeType,
        inspect_.DateType,
        inspect_.TimeType,
        inspect_.TimeDeltaType,
        inspect_.EnumType,
        inspect_.LiteralType,
        inspect_.AnyType,
    )
    if isinstance(info, inspect_.UnionType):
        return all(
            isinstance(t, inspect_.NoneType) or is_scalar_info(inspect_, t) for t in info.types
        )
    return isinstance(info, scalars)


def has_custom_type(inspect_: Any, info: Any) -> bool:
    """Whether a msgspec type tree holds a type msgspec cannot decode on its own."""
    seen: set[int] = set()
    pending = [info]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, inspect_.CustomType):
            return True
        if isinstance(item, (tuple, list)):
            pending.extend(item)
        elif isinstance(item, inspect_.Field):
            pending.append(item.type)
        elif isinstance(item, inspect_.Type):
            for field in item.__struct_fields__:
                pending.append(getattr(item, field))
    return False


def mentions_model(annotation: Any) -> bool:
    """Whether a return annotation is a model type, or a container or union of them."""
    annotation = base_type(annotation)
    if is_pydantic(annotation):
        return True
    if is_class(annotation):
        msgspec = sys.modules.get("msgspec")
        return bool(
            (msgspec is not None and issubclass(annotation, msgspec.Struct))
            or dataclasses.is_dataclass(annotation)
            or typing.is_typeddict(annotation)
        )
    origin = typing.get_origin(annotation)
    if origin is None:
        return False
    from .responses import Response

    args = typing.get_args(annotation)
    if any(is_class(a) and issubclass(a, Response) for a in args):
        return False
    return any(mentions_model(a) for a in args if a is not Ellipsis)


def without_responses(annotation: Any) -> Any:
    """A union's members that are not `Response` classes: `Model | Response` is the
    model (a response returned is sent as it is), so the model still filters fields."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return annotation
    from .responses import Response

    kept = tuple(a for a in args if not (is_class(a) and issubclass(a, Response)))
    if len(kept) == len(args):
        return annotation
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else typing.Union[kept]  # noqa: UP007 - from a tuple


def agrees(annotation: Any, converted: Any) -> bool:
    """Whether a path parameter's annotation takes the converter's values as they are."""
    base = base_type(annotation)
    if base is converted or base is Any:
        return True
    args = typing.get_args(base)
    return bool(args) and converted in args  # Optional[int], int | None


def dependency_kind(call: Callable[..., Any]) -> tuple[bool, bool]:
    """(is_generator, is_async) of a dependency."""
    target = inspect.unwrap(call)
    while isinstance(target, functools.partial):  # `partial(session, "db")`
        target = inspect.unwrap(target.func)
    if not (inspect.isfunction(target) or inspect.ismethod(target)) and not inspect.isclass(target):
        target = type(target).__call__
    if inspect.isasyncgenfunction(target):
        return True, True
    if inspect.isgeneratorfunction(target):
        return True, False
    from ._concurrency import is_async_callable

    return False, is_async_callable(call)


# Spellings of booleans in query strings, headers and forms (FastAPI users send these).
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def converter(msgspec: Any, annotation: Any) -> Callable[[Any], Any] | None:
    """What turns a raw value (a string, a list of them, or a converted path value) into
    the parameter's type; None when it is the value as it is."""
    base, metadata = split_annotated(annotation)
    if not metadata and _takes_text_as_is(base):
        return None
    convert = msgspec.convert
    if is_bool(base):

        def to_bool(raw: Any) -> Any:
            if type(raw) is str:
                raw = bool_text(raw)
            elif type(raw) is list:
                raw = [bool_text(item) for item in raw]
            return convert(raw, annotation, strict=False)

        return to_bool

    def to_type(raw: Any) -> Any:
        return convert(raw, annotation, strict=False)

    return to_type


def _takes_text_as_is(annotation: Any) -> bool:
    # `str | None` too: a value that is there is a string (an absent one never reaches
    # the converter).
    if annotation is str or annotation is Any or annotation == list[str]:
        return True
    args = typing.get_args(annotation)
    return (
        len(args) == 2
        and type(None) in args
        and typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and all(a is str or a == list[str] for a in args if a is not type(None))
    )


def bool_text(raw: str) -> str:
    lowered = raw.lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    return raw


def is_bool(annotation: Any) -> bool:
    """Whether the values are booleans: `bool`, `bool | None`, `list[bool]`..."""
    annotation = split_annotated(annotation)[0]
    if annotation is bool:
        return True
    return any(is_bool(a) for a in typing.get_args(annotation) if a is not type(None))


def reads_bytes(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    if type(None) in args and len(args) == 2:  # `bytes | None`
        annotation = next(a for a in args if a is not type(None))
    return annotation is bytes or annotation == list[bytes]
