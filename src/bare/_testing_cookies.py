"""The test client's cookie jar: RFC 6265 storage rules, cut down to what tests need."""

from __future__ import annotations

import calendar
import ipaddress
import re
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass

__all__ = ["Cookie", "CookieJar", "parse_cookie_date", "parse_set_cookie"]

_DATE_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?$")
_DIGITS = re.compile(r"(\d+)(?:\D.*)?$")
_DELTA_SECONDS = re.compile(r"-?[0-9]+")
# The end of year 9999, the latest `Expires` date that parse_cookie_date can read.
_LAST_DATE = float(calendar.timegm((9999, 12, 31, 23, 59, 59)))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass
class Cookie:
    """One stored cookie. `domain == ""` means "any host" (cookies set by the test)."""

    name: str
    value: str
    domain: str = ""
    path: str = "/"
    host_only: bool = False
    secure: bool = False
    expires: float | None = None  # seconds since the epoch; None lasts the session

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    def matches(self, host: str, path: str, secure: bool) -> bool:
        """True if this cookie goes with a request to `host` and `path` (RFC 6265 §5.4)."""
        if self.secure and not secure:
            return False
        if self.domain and not (
            host == self.domain if self.host_only else _domain_match(host, self.domain)
        ):
            return False
        return _path_match(path, self.path)


def parse_set_cookie(header: str, host: str, path: str, now: float) -> Cookie | None:
    """Read one `Set-Cookie` value received from `host` for request `path` (RFC 6265 §5.2).

    Returns None if the header must be ignored: no `=`, an empty name, or a `Domain`
    that does not cover `host`. An expired result means "delete this cookie".
    """
    pair, *attributes = header.split(";")
    name, sep, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        return None
    cookie = Cookie(name, value, domain=host, path=_default_path(path), host_only=True)
    max_age: float | None = None
    for attribute in attributes:
        key, _, attr_value = attribute.partition("=")
        key, attr_value = key.strip().lower(), attr_value.strip()
        if key == "max-age":
            if not _DELTA_SECONDS.fullmatch(attr_value):
                continue  # RFC 6265 5.2.2: only an optional "-" and digits count
            if attr_value.startswith("-") or attr_value.strip("0") == "":
                max_age = 0.0
            else:
                # RFC 6265 5.2.1 lets a user agent cap expiry at the last date it can
                # represent; a huge delta would not even convert to a float.
                seconds = int(attr_value) if len(attr_value) <= 12 else _LAST_DATE
                max_age = min(now + seconds, _LAST_DATE)
        elif key == "expires":
            expires = parse_cookie_date(attr_value)
            if expires is not None:
                cookie.expires = float(expires)
        elif key == "domain" and attr_value:
            domain = attr_value.lstrip(".").lower()
            if not _domain_match(host, domain):
                return None
            cookie.domain, cookie.host_only = domain, False
        elif key == "path":
            cookie.path = attr_value if attr_value.startswith("/") else _default_path(path)
        elif key == "secure":
            cookie.secure = True
    if max_age is not None:  # Max-Age wins over Expires
        cookie.expires = max_age
    return cookie


class CookieJar(MutableMapping[str, str]):
    """The cookies a test client holds, as a mapping from name to value.

    Responses add to it through their `Set-Cookie` headers (honouring `Max-Age`,
    `Expires`, `Domain`, `Path` and `Secure`); requests send back the cookies whose
    domain and path match. Cookies set by hand (`jar["name"] = "value"`) go to every
    host and path. `del jar[name]` forgets every cookie of that name.
    """

    def __init__(self, cookies: Mapping[str, str] | None = None) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        if cookies:
            self.update(cookies)

    def set(self, name: str, value: str, *, domain: str = "", path: str = "/") -> None:
        """Store a cookie; `domain=""` sends it to any host."""
        domain = domain.lstrip(".").lower()
        self._cookies[(domain, path, name)] = Cookie(name, value, domain, path)

    def add(self, cookie: Cookie) -> None:
        """Store `cookie`, or delete its stored twin if it has already expired.

        A cookie from a server also replaces (or deletes) a hand-set cookie of the same
        name and path, which stands for "this cookie, on whatever host".
        """
        key = (cookie.domain, cookie.path, cookie.name)
        self._cookies.pop(("", cookie.path, cookie.name), None)
        if cookie.expired(time.time()):
            self._cookies.pop(key, None)
        else:
            self._cookies[key] = cookie

    def extract(self, set_cookie_headers: Iterable[str], host: str, path: str) -> None:
        """Store the cookies of a response to a request for `host` and `path`."""
        now = time.time()
        for header in set_cookie_headers:
            cookie = parse_set_cookie(header, host, path, now)
            if cookie is not None:
                self.add(cookie)

    def pairs_for(self, host: str, path: str, secure: bool) -> list[tuple[str, str]]:
        """The (name, value) pairs to send with a request, longest paths first."""
        chosen = [c for c in self._live() if c.matches(host, path, secure)]
        chosen.sort(key=lambda c: len(c.path), reverse=True)
        return [(c.name, c.value) for c in chosen]

    def cookies(self) -> list[Cookie]:
        """Every stored cookie that has not expired."""
        return list(self._live())

    def _live(self) -> Iterator[Cookie]:
        now = time.time()
        for key, cookie in list(self._cookies.items()):
            if cookie.expired(now):
                del self._cookies[key]
            else:
                yield cookie

    def __getitem__(self, name: str) -> str:
        for cookie in self._live():
            if cookie.name == name:
                return cookie.value
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        keys = [key for key, cookie in self._cookies.items() if cookie.name == name]
        if not keys:
            raise KeyError(name)
        for key in keys:
            del self._cookies[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(cookie.name for cookie in self._live()))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"CookieJar({dict(self)!r})"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def _path_match(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def _default_path(request_path: str) -> str:
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def parse_cookie_date(text: str) -> float | None:
    """An `Expires` date as seconds since the epoch, by RFC 6265 §5.1.1; None if invalid.

    The algorithm is lenient on purpose: it reads `Wed, 21 Oct 2015 07:28:00 GMT` as
    well as the older `Wednesday, 21-Oct-15 07:28:00 GMT` and the asctime layout.
    """
    clock: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        if clock is None and (match := _TIME.match(token)):
            clock = (int(match[1]), int(match[2]), int(match[3]))
        elif day is None and (match := _DIGITS.match(token)) and len(match[1]) <= 2:
            day = int(match[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (match := _DIGITS.match(token)) and 2 <= len(match[1]) <= 4:
            year = int(match[1])
    if clock is None or day is None or month is None or year is None:
        return None
    year += 1900 if 70 <= year <= 99 else 2000 if year <= 69 else 0
    hour, minute, second = clock
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))
