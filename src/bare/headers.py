"""Header handling: a case-insensitive view over the raw ASGI header list, and checks
that keep CR, LF and NUL out of response headers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

__all__ = ["Headers", "check_header"]

RawHeaders = Sequence[tuple[bytes, bytes]]

# RFC 9110 token characters, for header names.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_header(name: str, value: str) -> None:
    """Raise `ValueError` if `name` is not a token or `value` holds CR, LF, NUL or non-latin-1."""
    if not name or not _TOKEN.issuperset(name):
        raise ValueError(f"invalid header name {name!r}")
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"header {name!r}: value contains CR, LF or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r}: value is not latin-1") from None


class Headers(Mapping[str, str]):
    """Request headers: read-only, case-insensitive, multi-valued (`getlist`).

    Built lazily from the raw `[(name, value), ...]` byte pairs of the ASGI scope.
    `headers[name]` gives the first value; `getlist(name)` gives all of them.
    """

    __slots__ = ("_map", "raw")

    def __init__(self, raw: RawHeaders = ()) -> None:
        self.raw = raw
        self._map: dict[str, list[str]] | None = None

    def _index(self) -> dict[str, list[str]]:
        if self._map is None:
            index: dict[str, list[str]] = {}
            for name, value in self.raw:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                if key in index:
                    index[key].append(text)
                else:
                    index[key] = [text]
            self._map = index
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._index()[name.lower()][0]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        values = self._index().get(name.lower())
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        """Every value of `name`, in the order they came."""
        return list(self._index().get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index()

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every (name, value) pair, repeated names included, names lower-cased."""
        return [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in self.raw]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """Interim: replaced by the compiled/pure header module."""
    check_header(name, value)
    return name.lower().encode("latin-1"), value.encode("latin-1")


def parse_cookie(header: str, max_count: int = 200) -> dict[str, str]:
    """Interim: replaced by the compiled/pure header module."""
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if sep and name and name not in cookies:
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
            if len(cookies) >= max_count:
                break
    return cookies
