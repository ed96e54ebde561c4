"""Validation errors of typed handlers, in the shape FastAPI users know:
`{"loc": ["query", "limit"], "msg": "...", "type": "...", "input": ...}`.

msgspec stops at the first error; `body_errors` walks a body that failed again, field
by field, to list them all (only on that failure path). What the client sent is
echoed back only when it is a short scalar, and messages and names are cut short.
"""

from __future__ import annotations

import re
import typing
from typing import Any

__all__ = ["body_errors", "error", "missing", "msgspec_error"]

MAX_ERRORS = 64  # a list of 100 000 wrong items gets the first ones, not 100 000 errors
MAX_INPUT = 64  # characters of JSON, for an `input` to be echoed
MAX_TEXT = 120  # characters of a message or of a name in `loc`

# Stand-ins for a field's type in the walk: report it as missing, or as unknown.
_ABSENT = object()
_UNKNOWN = object()

_AT = re.compile(r" - at `\$(.*)`$")
_STEP = re.compile(r"\[(\d+)\]|\.([^.\[]+)|\[\.\.\.\]")
# msgspec quotes what it rejects in a few messages: never echoed in full.
_QUOTED = re.compile(r"^(Invalid enum value|Object contains unknown field) .*$")


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def _echo(value: Any) -> tuple[bool, Any]:
    """Whether `value` may be shown back, and as what (a short scalar only)."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):
        return len(str(value)) <= MAX_INPUT if abs(value) < 10**MAX_INPUT else False, value
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf")), value
    if isinstance(value, str):
        return len(value) <= MAX_INPUT - 2, value
    return False, None


def error(
    loc: list[Any], msg: str, kind: str, value: Any = ..., *, echo: bool = True
) -> dict[str, Any]:
    """One error; `value` (what was rejected) is shown only when short and safe."""
    found: dict[str, Any] = {
        "loc": [_short(p) if isinstance(p, str) else p for p in loc],
        "msg": _short(msg),
        "type": kind,
    }
    if echo and value is not ...:
        shown, value = _echo(value)
        if shown:
            found["input"] = value
    return found


def missing(loc: list[Any]) -> dict[str, Any]:
    return error(loc, "Field required", "missing")


def _kind(message: str) -> str:
    """A short word for a msgspec message (msgspec has no error codes)."""
    if message.startswith("Object missing required field"):
        return "missing"
    if message.startswith("Object contains unknown field"):
        return "extra_forbidden"
    if message.startswith("Expected `") and "`, got `" in message:
        return "type_error"
    if message.startswith("Expected `"):
        return "constraint"
    if message.startswith("Invalid enum value"):
        return "enum"
    if "out of range" in message:
        return "out_of_range"
    return "value_error"


def msgspec_error(loc: list[Any], exc: Exception, value: Any = ...) -> dict[str, Any]:
    """The error for a msgspec `ValidationError` raised converting `value` found at
    `loc`; the path in its message (`- at $.items[0].name`) extends `loc`."""
    message = str(exc)
    match = _AT.search(message)
    if match is not None:
        message = message[: match.start()]
        steps = [
            int(index) if index else (key if key else "...")
            for index, key in _STEP.findall(match.group(1))
        ]
        loc = [*loc, *steps]
        value = ...  # the rejected part is somewhere inside
    kind = _kind(message)
    if kind == "missing":
        field = message.rpartition("`")[0].rpartition("`")[2]
        loc = [*loc, field] if field else loc
        return missing(loc)
    if _QUOTED.match(message):
        message = message.split(" `")[0].split(" '")[0]
    return error(loc, message, kind, value)


def body_errors(
    msgspec: Any,
    value: Any,
    annotation: Any,
    loc: list[Any],
    found: list[dict[str, Any]],
    *,
    strict: bool = True,
) -> None:
    """Every error of `value` (decoded JSON; form strings with `strict=False`) against
    `annotation`, appended to `found`, walking objects field by field and arrays item
    by item (at most `MAX_ERRORS`)."""
    pending: list[tuple[Any, Any, list[Any]]] = [(value, annotation, loc)]
    inspect = msgspec.inspect
    while pending and len(found) < MAX_ERRORS:
        value, annotation, loc = pending.pop()
        if annotation is _ABSENT:
            found.append(missing(loc))
            continue
        if annotation is _UNKNOWN:
            found.append(error(loc, "Unknown field", "extra_forbidden"))
            continue
        try:
            msgspec.convert(value, annotation, strict=strict)
            continue
        except msgspec.ValidationError as exc:
            first = exc
        children = _children(msgspec, inspect, value, annotation, loc, found)
        if children is None:
            found.append(msgspec_error(loc, first, value))
        else:
            pending.extend(reversed(children))


def _children(
    msgspec: Any,
    inspect: Any,
    value: Any,
    annotation: Any,
    loc: list[Any],
    found: list[dict[str, Any]],
) -> list[tuple[Any, Any, list[Any]]] | None:
    """The parts of `value` to check one by one, or None to report `value` as a whole."""
    try:
        info = inspect.type_info(annotation)
    except (TypeError, ValueError):
        return None
    if isinstance(info, inspect.UnionType) and value is not None:
        others = [a for a in typing.get_args(_strip(annotation)) if a is not type(None)]
        if len(others) == 1 and len(info.types) == 2:  # `Model | None`: check the model
            return [(value, others[0], loc)]
        return None
    objects = (inspect.StructType, inspect.DataclassType, inspect.TypedDictType)
    if (
        isinstance(info, objects)
        and isinstance(value, dict)
        and not getattr(info, "array_like", False)
    ):
        if getattr(info, "tag_field", None) is not None:
            return None  # a tagged union member: msgspec's one message says it best
        hints = typing.get_type_hints(info.cls, include_extras=True)
        children = []
        known = set()
        for field in info.fields:
            known.add(field.encode_name)
            if field.encode_name not in value:
                if field.required:
                    children.append((None, _ABSENT, [*loc, field.encode_name]))
                continue
            children.append(
                (value[field.encode_name], hints.get(field.name, Any), [*loc, field.encode_name])
            )
        if getattr(info, "forbid_unknown_fields", False):
            unknown = (key for key in value if key not in known)
            for key, _ in zip(unknown, range(MAX_ERRORS)):
                children.append((None, _UNKNOWN, [*loc, str(key)]))
        return children
    sequences = (inspect.ListType, inspect.SetType, inspect.FrozenSetType, inspect.VarTupleType)
    if isinstance(info, sequences) and isinstance(value, list):
        args = typing.get_args(_strip(annotation))
        if not args:
            return None
        low, high = getattr(info, "min_length", None), getattr(info, "max_length", None)
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return None  # the length is the error
        return [(item, args[0], [*loc, index]) for index, item in enumerate(value)]
    return None


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = annotation.__origin__
    return annotation
