"""Route pattern parsing (`/users/{id:int}`) and URL building from a parsed pattern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._quoting import quote
from .converters import KIND_PATH, Converter, get_converter

__all__ = ["Literal", "Mixed", "Param", "PathTemplate", "RouteError", "parse_template"]

# RFC 3986 pchar minus the unreserved characters, which quote() never touches.
_SEGMENT_SAFE = "!$&'()*+,;=:@"
_PATH_SAFE = _SEGMENT_SAFE + "/"


class RouteError(ValueError):
    """A route pattern or a route table is invalid."""

    __module__ = "bare.routing"  # where users import it from


class Value:
    """A small immutable record: equality, hashing and repr come from its `__slots__`.

    Plain classes rather than dataclasses: a dataclass is generated with `exec` at
    import, which would cost `import bare` more than everything else here.
    """

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Value)
            and type(other) is type(self)
            and self._fields() == other._fields()
        )

    def __hash__(self) -> int:
        return hash(self._fields())

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name):
            raise AttributeError(f"{type(self).__name__}.{name} cannot be changed")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Literal(Value):
    """A segment of plain text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Param(Value):
    """A segment that is one parameter: `{name}` or `{name:conv}`."""

    __slots__ = ("converter", "name")

    def __init__(self, name: str, converter: Converter) -> None:
        self.name = name
        self.converter = converter


class Mixed(Value):
    """A segment mixing text and parameters: `{name}.{ext}`, `v{major:int}`.

    `literals` has one more item than `params`: text before, between and after them.
    """

    __slots__ = ("literals", "params")

    def __init__(self, literals: tuple[str, ...], params: tuple[Param, ...]) -> None:
        self.literals = literals
        self.params = params

    def key(self) -> tuple[Any, ...]:
        """Equal for segments that match the same text (any parameter names): the route
        table keeps one branch per key."""
        return ("M", self.literals, tuple(p.converter.name for p in self.params))


Segment = Literal | Param | Mixed


class PathTemplate(Value):
    """A parsed route pattern."""

    __slots__ = ("param_names", "segments", "template")

    def __init__(
        self, template: str, segments: tuple[Segment, ...], param_names: tuple[str, ...]
    ) -> None:
        self.template = template
        self.segments = segments
        self.param_names = param_names

    @property
    def is_static(self) -> bool:
        return all(isinstance(s, Literal) for s in self.segments)

    def build(self, values: Mapping[str, Any]) -> str:
        """Build a percent-quoted path from parameter values.

        Raises `ValueError` naming the problem when a value is missing, extra, or not
        accepted by its converter.
        """
        expected = set(self.param_names)
        missing = expected - values.keys()
        extra = values.keys() - expected
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                problems.append(f"unexpected {', '.join(sorted(extra))}")
            raise ValueError(f"{self.template}: {'; '.join(problems)}")
        parts = []
        for segment in self.segments:
            if isinstance(segment, Literal):
                parts.append(quote(segment.text, safe=_SEGMENT_SAFE))
            elif isinstance(segment, Param):
                parts.append(_param_to_url(self.template, segment, values[segment.name]))
            else:
                text = quote(segment.literals[0], safe=_SEGMENT_SAFE)
                for param, literal in zip(segment.params, segment.literals[1:]):
                    text += _param_to_url(self.template, param, values[param.name])
                    text += quote(literal, safe=_SEGMENT_SAFE)
                parts.append(text)
        return "/" + "/".join(parts)


def _param_to_url(template: str, param: Param, value: Any) -> str:
    converter = param.converter
    try:
        text = converter.to_url(value)
        valid = isinstance(text, str) and converter.matches(text)
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(
            f"{template}: {param.name}={value!r} is not a valid {converter.name!r} value"
        )
    safe = _PATH_SAFE if converter.kind == KIND_PATH else _SEGMENT_SAFE
    return quote(text, safe=safe)


def parse_template(template: str) -> PathTemplate:
    """Parse a route pattern; raise `RouteError` with the reason if it is malformed."""
    if not isinstance(template, str) or not template.startswith("/"):
        raise RouteError(f"route pattern {template!r} must start with '/'")
    raw_segments = template[1:].split("/")
    segments: list[Segment] = []
    names: list[str] = []
    for index, raw in enumerate(raw_segments):
        pieces = _split_braces(template, raw)
        literals = pieces[0::2]
        params = tuple(_make_param(template, text) for text in pieces[1::2])
        for param in params:
            if param.name in names:
                raise RouteError(
                    f"route pattern {template!r} uses the parameter {param.name!r} twice"
                )
            names.append(param.name)
            if param.converter.kind == KIND_PATH and (
                index != len(raw_segments) - 1 or len(params) != 1 or any(literals)
            ):
                raise RouteError(
                    f"route pattern {template!r}: a 'path' parameter must be the whole last segment"
                )
        if not params:
            segments.append(Literal(raw))
        elif len(params) == 1 and not any(literals):
            segments.append(params[0])
        else:
            if not all(literals[1:-1]):
                raise RouteError(
                    f"route pattern {template!r}: parameters in one segment need text between them"
                )
            segments.append(Mixed(tuple(literals), params))
    return PathTemplate(template, tuple(segments), tuple(names))


def _split_braces(template: str, segment: str) -> list[str]:
    """Split one segment into [text, param, text, param, ..., text]."""
    pieces: list[str] = []
    start = 0
    while True:
        opening = segment.find("{", start)
        closing = segment.find("}", start)
        if opening == -1:
            if closing != -1:
                raise RouteError(f"route pattern {template!r} has an unbalanced '}}'")
            pieces.append(segment[start:])
            return pieces
        if closing == -1:
            raise RouteError(f"route pattern {template!r} has an unbalanced '{{'")
        if closing < opening:
            raise RouteError(f"route pattern {template!r} has an unbalanced '}}'")
        nested = segment.find("{", opening + 1, closing)
        if nested != -1:
            raise RouteError(f"route pattern {template!r} has nested braces")
        pieces.append(segment[start:opening])
        pieces.append(segment[opening + 1 : closing])
        start = closing + 1


def _make_param(template: str, text: str) -> Param:
    name, sep, converter_name = text.partition(":")
    if not name:
        raise RouteError(f"route pattern {template!r} has a parameter with an empty name")
    if not name.isidentifier():
        raise RouteError(
            f"route pattern {template!r}: parameter name {name!r} is not an identifier"
        )
    if sep and not converter_name:
        raise RouteError(f"route pattern {template!r}: parameter {name!r} has an empty converter")
    converter_name = converter_name or "str"
    try:
        converter = get_converter(converter_name)
    except KeyError:
        raise RouteError(
            f"route pattern {template!r}: unknown converter {converter_name!r} for {name!r}"
        ) from None
    return Param(name, converter)
