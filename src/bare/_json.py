"""JSON in and out: compact UTF-8 output (orjson when installed), strict input parsing
(msgspec when installed)."""

from __future__ import annotations

import enum
import json
import math
import re
import sys
from collections.abc import Callable
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "NESTED_TOO_DEEP", "JSONDecodeError", "dumps", "loads", "too_deep"]

# Deeper request bodies are refused: deep values break recursive code (RFC 8259 section 9
# lets a parser set this limit).
MAX_DEPTH = 256
NESTED_TOO_DEEP = f"nested more than {MAX_DEPTH} deep"

orjson: Any
try:  # pragma: no cover - which branch runs depends on the environment
    import orjson
except ImportError:  # pragma: no cover
    orjson = None


class JSONDecodeError(ValueError):
    """A request body that is not valid JSON; the message is safe to show the client."""


def default(value: Any) -> Any:
    """How values that JSON has no type for are written; others raise `TypeError`.

    Unlike the book's `default=str`, unknown objects are refused rather than written as
    their `str()`, which could leak internals to the client.
    """
    kind = type(value)
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _converter_for(value)
        if len(_CONVERTERS) < _MAX_CONVERTERS:
            _CONVERTERS[kind] = convert
    return convert(value)


# How each type met so far is written: the checks below run once per type, not once per
# value (a list of a thousand models would otherwise walk them a thousand times). Bounded,
# for apps that make classes as they run.
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}
_MAX_CONVERTERS = 512


def _converter_for(value: Any) -> Callable[[Any], Any]:
    # The modules are looked up, not imported: a value of one of their types means the
    # module is loaded already, and importing them all would slow `import bare` down.
    modules = sys.modules
    datetime = modules.get("datetime")
    if datetime is not None and isinstance(
        value, (datetime.datetime, datetime.date, datetime.time)
    ):
        return _isoformat
    uuid, decimal = modules.get("uuid"), modules.get("decimal")
    if (uuid is not None and isinstance(value, uuid.UUID)) or (
        decimal is not None and isinstance(value, decimal.Decimal)
    ):
        return str
    if isinstance(value, enum.Enum):
        return _enum_value
    if isinstance(value, (set, frozenset)):
        return list
    dataclasses = modules.get("dataclasses")
    if dataclasses is not None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict  # type: ignore[no-any-return]
    msgspec = modules.get("msgspec")
    if msgspec is not None and isinstance(value, msgspec.Struct):
        return msgspec.to_builtins  # type: ignore[no-any-return]  # its own names (rename=), no extra fields
    pydantic = modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return _model_dump
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _isoformat(value: Any) -> Any:
    return value.isoformat()


def _enum_value(value: Any) -> Any:
    return value.value


def _model_dump(value: Any) -> Any:
    return value.model_dump(mode="json")


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None, as orjson writes them (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _dumps_stdlib(value: Any) -> bytes:
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default
        )
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        return _dumps_stdlib(_finite(value))
    return text.encode("utf-8")


if orjson is not None:
    # NOTE: no OPT_NON_STR_KEYS: dicts with keys other than str go to the standard
    # library, which writes int, float, bool and None keys and refuses the rest.
    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(value: Any) -> bytes:
        """`value` as compact UTF-8 JSON bytes."""
        try:
            encoded: bytes = orjson.dumps(value, default=default, option=_OPTIONS)
            return encoded
        except TypeError:
            # Integers beyond 64 bits, and the errors the standard library words better.
            return _dumps_stdlib(value)

else:
    dumps = _dumps_stdlib


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number too large")
    return value


# PERF: built once; `json.loads` with options builds a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_FINITE_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)

# An escaped UTF-16 surrogate: the parser turns a lone one into a str no codec can write.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

# For the number check: digits and a "+" become "0", "E" becomes "e".
_NUMBER_SHAPES = bytes.maketrans(b"123456789E+", b"000000000e0")

# For the depth check: every byte but quotes and brackets goes, brackets become "[" or "]".
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STRING = re.compile(rb'"[^"]*"')
_STEP = [0] * 256
_STEP[ord("[")] = 1
_STEP[ord("]")] = -1
_PASSES = 8
_CHUNK = 1 << 16


def _may_overflow(body: bytes) -> bool:
    """Whether `body` may hold a number that `float()` makes infinite.

    That takes a positive exponent of three digits or more, or a hundred digits in a
    row (JSON has no leading zeros, so 99 digits and a two-digit exponent stay below
    1e200). False alarms (`1e+99`, words in strings) cost time only.
    """
    shape = body.translate(_NUMBER_SHAPES)
    return b"e000" in shape or b"0" * 100 in shape


def too_deep(body: bytes) -> bool:
    """Whether arrays and objects nest more than `MAX_DEPTH` deep in `body`.

    Exact for valid JSON. For broken JSON it never counts less than the depth the parser
    would reach before it stops: a body that passes cannot make it recurse deeper.
    """
    # PERF: C-level passes over the bytes; the parser never sees a deep body at all.
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    if b"\\" in body:  # escaped backslashes first, so `\\"` keeps its closing quote
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Left: quotes and brackets. Dropping `""` removes strings without brackets, or merges
    # two strings that had nothing outside them: no bracket changes sides either way.
    marks = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:
        marks = _STRING.sub(b"", marks)
    marks = marks.translate(_SQUARE)
    # Each pass removes the innermost pairs: for balanced brackets, the depth is then what
    # is left plus the passes made, and never less for unbalanced ones.
    passes = 0
    while marks and passes < _PASSES:
        shorter = marks.replace(b"[]", b"")
        if len(shorter) == len(marks):
            break
        marks, passes = shorter, passes + 1
    depth = passes
    for start in range(0, len(marks), _CHUNK):
        levels = list(
            accumulate(map(_STEP.__getitem__, marks[start : start + _CHUNK]), initial=depth)
        )
        if max(levels) > MAX_DEPTH:
            return True
        depth = levels[-1]
    return False


def _has_lone_surrogate(value: Any) -> bool:
    # NOTE: a loop with a stack, not recursion: the value may nest MAX_DEPTH deep.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(body: bytes) -> Any:
    """Parse a request body strictly: UTF-8 only, no `NaN`/`Infinity`, no numbers too large
    for a float, no lone surrogates, at most `MAX_DEPTH` levels of arrays and objects.

    msgspec parses when it is installed, the standard library otherwise; both give the
    same answers (tests/test_json.py runs every case on each, and holds them together on
    generated bodies). Raises `JSONDecodeError` with a message for the server's log.
    """
    if too_deep(body):
        raise JSONDecodeError(f"Malformed JSON: {NESTED_TOO_DEEP}")
    return _parse(body)


def parse_stdlib(body: bytes) -> Any:
    """`loads` by the standard library's parser, with the checks it does not make itself."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONDecodeError("JSON body is not valid UTF-8") from None
    # PERF: the float hook, a Python call per float, runs only where a number may overflow.
    decoder = _FINITE_DECODER if _may_overflow(body) else _DECODER
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise JSONDecodeError(
            f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # not expected below MAX_DEPTH; kept as a net
        raise JSONDecodeError("Malformed JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, an overflowing float, an integer too long
        message = "number too large" if "digits" in str(exc) else str(exc)
        raise JSONDecodeError(f"Malformed JSON: {message}") from None
    # PERF: the walk runs only for bodies that escape a surrogate at all.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JSONDecodeError("Malformed JSON: a lone UTF-16 surrogate")
    return value


def msgspec_parser() -> Callable[[bytes], Any] | None:
    """`loads` by msgspec's parser, or None if msgspec is not installed.

    msgspec refuses by itself what the standard library needs checks for: invalid UTF-8,
    `NaN` and `Infinity`, floats that overflow, integers past Python's digit limit and
    lone surrogates. It reads integers of any size exactly, as the standard library does
    (orjson, by contrast, turns those past 64 bits into floats, so it never parses here).
    """
    try:
        import msgspec
    except ImportError:
        return None
    decode = msgspec.json.Decoder().decode
    DecodeError, ValidationError = msgspec.DecodeError, msgspec.ValidationError

    def parse_msgspec(body: bytes) -> Any:
        try:
            return decode(body)
        except ValidationError:  # its words for a number out of range
            raise JSONDecodeError("Malformed JSON: number too large") from None
        except DecodeError as exc:
            reason = str(exc)
            if "UTF-8" in reason:
                raise JSONDecodeError("JSON body is not valid UTF-8") from None
            raise JSONDecodeError(f"Malformed JSON: {reason}") from None
        except RecursionError:  # not expected below MAX_DEPTH; kept as a net
            raise JSONDecodeError("Malformed JSON: nested too deeply") from None

    return parse_msgspec


def _choose_parser(body: bytes) -> Any:
    # The first body picks the parser: msgspec is imported then, not with bare.
    global _parse
    _parse = msgspec_parser() or parse_stdlib
    return _parse(body)


_parse: Callable[[bytes], Any] = _choose_parser
