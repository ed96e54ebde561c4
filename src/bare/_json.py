"""JSON in and out: compact UTF-8 output (orjson when installed), strict input parsing."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import re
import uuid
from typing import Any

__all__ = ["JSONDecodeError", "dumps", "loads"]

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
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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


# An escaped UTF-16 surrogate: the parser turns a lone one into a str no codec can write.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def loads(body: bytes) -> Any:
    """Parse a request body strictly: UTF-8 only, no `NaN`/`Infinity`, no lone surrogates.

    Raises `JSONDecodeError` with a message for the server's log.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONDecodeError("JSON body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise JSONDecodeError(
            f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise JSONDecodeError("Malformed JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with too many digits
        message = "number too large" if "digits" in str(exc) else str(exc)
        raise JSONDecodeError(f"Malformed JSON: {message}") from None
    # PERF: the walk runs only for bodies that escape a surrogate at all.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JSONDecodeError("Malformed JSON: a lone UTF-16 surrogate")
    return value
