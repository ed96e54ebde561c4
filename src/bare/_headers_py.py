"""Pure-Python header codecs: the reference twin of `_headers.pyx`.

The contract, which both modules follow to the exception type:

`Headers(raw=())` is a read-only, case-insensitive, multi-valued view over the ASGI
header list `raw` (pairs of bytes, kept as given, not copied). Names come out lowered
(ASCII letters only, as `bytes.lower` does) and values decoded as latin-1. Building it
costs nothing: every call reads `raw` again, so the view always matches the list.
- `get(name, default=None)`, `headers[name]` (KeyError) and `name in headers` read the
  pairs in order up to the first whose name matches; `getlist(name)` reads them all.
  `name` is a str of any case; one that is not latin-1 matches nothing.
- `items()` is every `(name, value)` pair, repeats included; `keys()`/`iter()`, `values()`
  and `len()` see each distinct name once, in order of first appearance, with its first
  value. `keys()`, `values()` and `items()` return lists.
- `==` holds between views of either implementation with the same `items()`, in order.
- Malformed lists raise when read, with the same exception and message in both twins:
  a `raw` that is not iterable raises TypeError as `iter()` does; a pair that does not
  unpack into two raises ValueError if it is a tuple or list (of another length) and
  TypeError otherwise; a name or value that is not bytes (str, bytearray, memoryview...)
  raises TypeError when it is read. A lookup by a name that is not a str raises TypeError.

`parse_cookie(header, max_count=200)` reads a `Cookie` header (RFC 6265 5.4) into a dict:
split on ";", ignore pieces without "=", strip spaces and tabs around the name and the
value, drop empty names, remove one pair of surrounding double quotes (nothing else is
unescaped), keep the first value of a name (the most specific cookie comes first) and
stop after `max_count` names. It never raises on a str, and runs in linear time.

`encode_header(name, value)` gives the ASGI pair `(name.lower(), value)` as bytes. The
name must be a non-empty RFC 9110 token; the value must be latin-1 without control
characters (HTAB is allowed inside) and may not start or end with a space or HTAB (RFC
9110 5.5: field values exclude them). Anything else raises ValueError naming the header
and the first offending character (never the value itself): whitespace at the start,
then the first control or non-latin-1 character, then whitespace at the end. A non-str
name or value raises TypeError. `encode_headers(pairs)` does the same for each pair (or
each item of a mapping); a pair that does not unpack raises as in `Headers`.

`framing_problem(raw)` says why a request's framing is ambiguous, or gives None: both
Content-Length and Transfer-Encoding, two Content-Length, or two Host headers (names in
any case). Two parsers could read such a request differently (request smuggling). It
takes the length of every name and compares those of 4, 14 and 17 characters, which
must be bytes (TypeError otherwise); a name without a length is a TypeError, other names
and every value are not looked at. Pairs that do not unpack raise as in `Headers`.

Keep in sync with _headers.pyx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import index
from typing import Any

__all__ = ["Headers", "encode_header", "encode_headers", "framing_problem", "parse_cookie"]

RawHeaders = Sequence[tuple[bytes, bytes]]

# PERF: unbound methods; they also raise TypeError for anything but bytes or str.
_lower = bytes.lower
_decode = bytes.decode
_encode = str.encode

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# NOTE: the characters _headers.pyx refuses: controls except HTAB, and non-latin-1.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_BLANKS = (" ", "\t")  # refused at either end of a value
_SHOWN = 50  # at most this many characters of a name in an error message


def _key(name: str) -> bytes | None:
    """The bytes a raw name must equal once lowered; None if nothing can match."""
    try:
        return _lower(_encode(name, "latin-1"))
    except UnicodeEncodeError:
        return None
    except TypeError:
        raise TypeError(f"header name must be str, not {type(name).__name__}") from None


def _matches(raw_name: Any, key: bytes) -> bool:
    """Whether a reader looking for `key` read the value of the pair named `raw_name`."""
    return isinstance(raw_name, bytes) and _lower(raw_name) == key


# Reading the raw list. PERF: each reader runs its plain loop inside one `try`, which
# costs nothing until it catches; only then does `_malformed` work out, from where the
# loop stopped, what _headers.pyx raises for the same list. No pair is read twice (an
# item may be an iterator). Guarded by the equivalence test named in `_malformed`.


def _malformed(
    raw: Sequence[Any], it: Iterator[Any], name: Any, value: Any, value_read: bool
) -> Exception | None:
    """The error for the pair a reader's loop stopped on, or None if no pair is at fault
    (the error came from elsewhere, and stands).

    PERF: readers test `type(raw) is not list` once and copy anything else (a tuple
    too, which is rare), where _headers.pyx copies anything but a list or a tuple.
    Guarded by tests/test_headers_equivalence.py::test_headers_agree_on_malformed_raw_lists,
    which feeds both twins lists, tuples and non-iterables and compares every error.

    Readers copy a `raw` that is not a list (as _headers.pyx copies anything but a list
    or a tuple) and loop over `it = iter(raw)`, so where the loop stopped can be found.
    `name` and `value` are the loop's: those of the stopping pair if it unpacked, else
    of the pair before it (b"" for none), which was sound, its value read if it matched.
    `value_read` says whether the reader read the value of a pair named `name`.
    """
    if not isinstance(name, bytes):
        return _not_bytes(name)
    if value_read and not isinstance(value, bytes):
        return _not_bytes(value)
    at = len(raw) - it.__length_hint__() - 1  # type: ignore[attr-defined]
    if 0 <= at < len(raw):
        return _bad_pair(raw[at])  # did not unpack
    return None


_UNREAD: Any = object()  # framing_problem's name until its item is unpacked


def _bad_pair(item: object) -> Exception:
    """The error for an item of a header list that does not unpack into (name, value)."""
    kind = type(item).__name__
    if isinstance(item, (tuple, list)):
        return ValueError(f"a header must be a (name, value) pair, not a {kind} of {len(item)}")
    return TypeError(f"a header must be a (name, value) pair, not {kind}")


def _not_bytes(item: object) -> TypeError:
    return TypeError(f"raw header names and values must be bytes, not {type(item).__name__}")


class Headers(Mapping[str, str]):
    """Request headers: read-only, case-insensitive, multi-valued (see the module doc)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawHeaders = ()) -> None:
        self._raw = raw

    @property
    def raw(self) -> RawHeaders:
        """The ASGI header list, as given."""
        return self._raw

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The first value of `name`, or `default`."""
        # PERF: a scan with no index: cheaper than a dict for one or a few lookups.
        key = _key(name)
        if key is None:
            return default
        raw = self._raw
        if type(raw) is not list:  # PERF: see _malformed
            raw = list(raw)
        it = iter(raw)
        raw_name = value = b""
        try:
            for raw_name, value in it:
                if _lower(raw_name) == key:
                    return _decode(value, "latin-1")
        except (TypeError, ValueError) as exc:
            raise _malformed(raw, it, raw_name, value, _matches(raw_name, key)) or exc from None
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def getlist(self, name: str) -> list[str]:
        """Every value of `name`, in the order they came."""
        key = _key(name)
        values: list[str] = []
        if key is None:
            return values
        raw = self._raw
        if type(raw) is not list:  # PERF: see _malformed
            raw = list(raw)
        it = iter(raw)
        raw_name = value = b""
        try:
            for raw_name, value in it:
                if _lower(raw_name) == key:
                    values.append(_decode(value, "latin-1"))
        except (TypeError, ValueError) as exc:
            raise _malformed(raw, it, raw_name, value, _matches(raw_name, key)) or exc from None
        return values

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every (name, value) pair, repeated names included, names lowered."""
        items: list[tuple[str, str]] = []
        append = items.append
        raw = self._raw
        if type(raw) is not list:  # PERF: see _malformed
            raw = list(raw)
        it = iter(raw)
        raw_name = value = b""
        try:
            for raw_name, value in it:
                append((_decode(_lower(raw_name), "latin-1"), _decode(value, "latin-1")))
        except (TypeError, ValueError) as exc:
            raise _malformed(raw, it, raw_name, value, True) or exc from None
        return items

    def _firsts(self) -> dict[str, str]:
        firsts: dict[str, str] = {}
        for name, value in self.items():
            if name not in firsts:
                firsts[name] = value
        return firsts

    def keys(self) -> list[str]:  # type: ignore[override]
        """Each distinct name once, lowered, in order of first appearance."""
        return list(self._firsts())

    def values(self) -> list[str]:  # type: ignore[override]
        """The first value of each distinct name, in the order of `keys()`."""
        return list(self._firsts().values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._firsts())

    def __len__(self) -> int:
        return len(self._firsts())

    def __eq__(self, other: object) -> bool:
        # NOTE: a view of either implementation compares by items, anything else is foreign.
        if not _is_headers(other):
            return NotImplemented
        return self.items() == other.items()  # type: ignore[attr-defined,no-any-return]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def _is_headers(other: object) -> bool:
    cls = type(other)
    return any(
        c.__name__ == "Headers" and c.__module__ in ("bare._headers", "bare._headers_py")
        for c in cls.__mro__
    )


def parse_cookie(header: str, max_count: int = 200) -> dict[str, str]:
    """The cookies of a `Cookie` header: `{name: value}`, first value wins."""
    if not isinstance(header, str):
        raise TypeError(f"cookie header must be str, not {type(header).__name__}")
    limit = index(max_count)
    cookies: dict[str, str] = {}
    if limit <= 0:
        return cookies
    for piece in header.split(";"):
        name, eq, value = piece.partition("=")
        if not eq:
            continue
        name = name.strip(" \t")
        if not name or name in cookies:
            continue
        value = value.strip(" \t")
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
        if len(cookies) >= limit:
            break
    return cookies


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """Check one response header and encode it for ASGI: `(lowered name, value)` as bytes."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise _type_error(name, value)
    # PERF: most names are letters, digits and "-": two C calls instead of a regex.
    if not (name.isascii() and name.replace("-", "").isalnum()) and not _TOKEN.fullmatch(name):
        raise _name_error(name)
    if not value.isprintable():  # control characters, but also HTAB, NBSP...
        bad = _BAD_VALUE_CHAR.search(value)
        if bad is not None:
            raise _value_error(name, value, _leading_blank(value, bad.start()))
    try:
        pair = name.lower().encode("ascii"), value.encode("latin-1")
    except UnicodeEncodeError as exc:  # printable but beyond latin-1
        raise _value_error(name, value, _leading_blank(value, exc.start)) from None
    # PERF: strip() gives back the very same str when there is nothing to strip. Guarded
    # by tests/test_headers_impls.py::test_encode_header_refuses_whitespace_at_either_end.
    if value.strip(" \t") is not value and (value[:1] in _BLANKS or value[-1:] in _BLANKS):
        raise _value_error(name, value, 0 if value[:1] in _BLANKS else len(value) - 1)
    return pair


def _leading_blank(value: str, at: int) -> int:
    """Where the first fault of `value` is, given a bad character `at`: a space or tab
    at the start comes first."""
    return 0 if value[:1] in _BLANKS else at


def encode_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str],
) -> list[tuple[bytes, bytes]]:
    """`encode_header` over each pair; a mapping gives its items (never its keys)."""
    pairs: Iterable[Any] = headers
    kind = type(headers)
    # Dicts, lists and tuples skip the (slow) abstract Mapping check.
    if kind is dict or (kind is not list and kind is not tuple and isinstance(headers, Mapping)):
        pairs = headers.items()  # type: ignore[union-attr]
    encoded = []
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise _bad_pair(pair) from None
        encoded.append(encode_header(name, value))
    return encoded


# NOTE: the error messages below are the same, word for word, in _headers.pyx.


def _shown(name: str) -> str:
    if len(name) <= _SHOWN:
        return repr(name)
    return repr(name[:_SHOWN]) + "..."


def _type_error(name: Any, value: Any) -> TypeError:
    if not isinstance(name, str):
        return TypeError(f"header name must be str, not {type(name).__name__}")
    return TypeError(f"header value for {_shown(name)} must be str, not {type(value).__name__}")


def _name_error(name: str) -> ValueError:
    if not name:
        return ValueError("invalid header name '': it must be a non-empty token")
    at = next(i for i, char in enumerate(name) if not _TOKEN.fullmatch(char))
    return ValueError(
        f"invalid header name {_shown(name)}: U+{ord(name[at]):04X} at index {at} "
        "is not a token character (RFC 9110)"
    )


def _value_error(name: str, value: str, at: int) -> ValueError:
    code = ord(value[at])
    if code > 0xFF:
        problem = "contains a character that is not latin-1"
    elif value[at] in _BLANKS:  # refused at either end only
        problem = "starts with whitespace" if at == 0 else "ends with whitespace"
    else:
        problem = "contains CR, LF or another control character"
    return ValueError(
        f"invalid header value for {_shown(name)}: {problem} (U+{code:04X} at index {at})"
    )


# NOTE: the same messages in _headers.pyx.
BOTH_LENGTH_AND_CHUNKED = "Request has both Content-Length and Transfer-Encoding"
TWO_LENGTHS = "Request has more than one Content-Length header"
TWO_HOSTS = "Request has more than one Host header"


def framing_problem(raw: RawHeaders) -> str | None:
    """Why the framing of a request with headers `raw` is ambiguous, or None."""
    content_length = transfer_encoding = host = 0
    if type(raw) is not list:
        raw = list(raw)
    unread = item = name = _UNREAD
    try:
        for item in raw:
            # The name is reset for each item, so that the error below can tell an item
            # that does not unpack from one whose name is wrong: an item may be an
            # iterator, which cannot be unpacked a second time to find out.
            name = unread
            name, _ = item
            # PERF: servers send lower-case names; lower() only for names of a matching
            # size, and only they must be bytes (a bytearray would compare equal). Guarded
            # by tests/test_headers_equivalence.py::test_framing_problem_agrees and
            # tests/test_headers_impls.py, which compare with the compiled twin.
            size = len(name)
            if size == 14:
                if type(name) is not bytes and not isinstance(name, bytes):
                    raise _not_bytes(name)
                if name == b"content-length" or _lower(name) == b"content-length":
                    content_length += 1
            elif size == 4:
                if type(name) is not bytes and not isinstance(name, bytes):
                    raise _not_bytes(name)
                if name == b"host" or _lower(name) == b"host":
                    host += 1
            elif size == 17:
                if type(name) is not bytes and not isinstance(name, bytes):
                    raise _not_bytes(name)
                if name == b"transfer-encoding" or _lower(name) == b"transfer-encoding":
                    transfer_encoding += 1
    except (TypeError, ValueError):
        if name is unread:
            raise _bad_pair(item) from None
        raise _not_bytes(name) from None  # no length, or the length of a name looked for
    if content_length and transfer_encoding:
        return BOTH_LENGTH_AND_CHUNKED
    if content_length > 1:
        return TWO_LENGTHS
    if host > 1:
        return TWO_HOSTS
    return None
