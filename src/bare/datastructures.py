"""Small value types: URL, Address, QueryParams and State."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from urllib.parse import SplitResult

__all__ = ["URL", "Address", "QueryParams", "State"]


class Address(NamedTuple):
    """A peer address: `(host, port)`."""

    host: str
    port: int


class URL:
    """An absolute URL, split into its parts once. `str(url)` gives it back."""

    __slots__ = ("_parts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        from urllib.parse import urlsplit  # here, not at import: see tests/test_import_cost.py

        self._parts: SplitResult = urlsplit(text)

    @property
    def scheme(self) -> str:
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        return self._parts.netloc

    @property
    def hostname(self) -> str | None:
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        try:
            return self._parts.port
        except ValueError:  # a Host header with a port that is not a number
            return None

    @property
    def path(self) -> str:
        return self._parts.path

    @property
    def query(self) -> str:
        return self._parts.query

    @property
    def fragment(self) -> str:
        return self._parts.fragment

    def replace(self, **parts: str) -> URL:
        """A copy with some parts replaced: `url.replace(path="/", query="")`."""
        return URL(self._parts._replace(**parts).geturl())

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"URL({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other) if isinstance(other, (URL, str)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)


class QueryParams(dict[str, list[str]]):
    """Query parameters: each name maps to the list of its values, as in the book.

    `getlist(name)` gives all values (empty list if absent); `request.query(name)`
    gives the first one.
    """

    def getlist(self, name: str) -> list[str]:
        return list(self.get(name, ()))

    def first(self, name: str, default: str | None = None) -> str | None:
        values = self.get(name)
        return values[0] if values else default


class State(dict[str, Any]):
    """App or request state: a dict (as in the book) whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None
