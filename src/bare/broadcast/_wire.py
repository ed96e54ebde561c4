"""Messages on the wire: what a subscriber gets back for what was published.

A message is a `str`, `bytes` (also `bytearray` and `memoryview`, delivered as `bytes`)
or any other value that bare's JSON encoder writes (`bare._json.dumps`, as
`JSONResponse` writes it); a subscriber gets a `str`, `bytes` or the value parsed back
from that JSON. Through Redis a message is one byte that names its kind, then its body:

    b"s" + UTF-8 text        a str
    b"b" + the bytes         bytes
    b"j" + UTF-8 JSON        anything else

Other programs can publish to a bare app in this format. The memory backend sends no
bytes anywhere, but it gives subscribers exactly what the Redis backend would (a tuple
comes back as a list, a dataclass as a dict), so an app behaves the same on both.
"""

from __future__ import annotations

from typing import Any

from .._json import JSONDecodeError, dumps, loads

__all__ = ["decode", "encode", "prepare"]

TEXT, BYTES, JSON = b"s", b"b", b"j"
_BINARY = (bytes, bytearray, memoryview)


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ValueError(
            f"a broadcast message is at most {limit} bytes (max_message_size), not {size}"
        )


def _text(message: str, limit: int) -> bytes | None:
    """The UTF-8 of `message` once its size is checked; None when it is ASCII (its
    length is its size then, and encoding it is left to whoever needs the bytes)."""
    if message.isascii():
        _check_size(len(message), limit)
        return None
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a broadcast message cannot hold a lone surrogate") from None
    _check_size(len(data), limit)
    return data


def _json(message: Any, limit: int) -> tuple[bytes, Any]:
    """The JSON body of `message` and the value a subscriber gets back from it."""
    try:
        body = dumps(message)
    except TypeError as exc:
        raise TypeError(
            f"a broadcast message is a str, bytes or a JSON-able value, not "
            f"{type(message).__name__} ({exc})"
        ) from None
    except (ValueError, RecursionError) as exc:  # an int too long, a cycle, deep nesting
        raise ValueError(f"a broadcast message cannot be written as JSON: {exc}") from None
    _check_size(len(body), limit)
    try:
        value = loads(body)
    except JSONDecodeError as exc:  # what the encoder writes but subscribers refuse
        raise ValueError(f"a broadcast message cannot be read back: {exc}") from None
    return body, value


def prepare(message: Any, limit: int) -> Any:
    """What a subscriber gets for `message` (memory backend): the checks of `encode`,
    without the bytes."""
    if isinstance(message, str):
        _text(message, limit)
        return str.__str__(message)  # a plain str, also for subclasses (StrEnum...)
    if isinstance(message, _BINARY):
        data = bytes(message)
        _check_size(len(data), limit)
        return data
    return _json(message, limit)[1]


def encode(message: Any, limit: int) -> bytes:
    """`message` in the wire format. Raises `TypeError` for a value JSON cannot write
    and `ValueError` for one over `limit` bytes (the body's size, without the tag)."""
    if isinstance(message, str):
        data = _text(message, limit)
        return TEXT + (message.encode("ascii") if data is None else data)
    if isinstance(message, _BINARY):
        data = bytes(message)
        _check_size(len(data), limit)
        return BYTES + data
    return JSON + _json(message, limit)[0]


def decode(payload: bytes, limit: int) -> Any:
    """The message in `payload`; `ValueError` if it is not in the wire format or its
    body is over `limit` bytes."""
    tag, body = payload[:1], payload[1:]
    _check_size(len(body), limit)
    if tag == TEXT:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a text message that is not UTF-8") from None
    if tag == BYTES:
        return body
    if tag == JSON:
        return loads(body)  # JSONDecodeError is a ValueError
    raise ValueError(f"an unknown message kind {tag!r}")
