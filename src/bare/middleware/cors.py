"""Cross-origin resource sharing (CORS), as the Fetch standard defines it.

`CORSMiddleware` answers preflight requests itself and adds the `Access-Control-*`
headers to every other response of an allowed origin, error responses included, so a
500 never shows up in the browser as a CORS failure.

Origins are compared exactly, as the browser serializes them (`scheme://host[:port]`,
lower-case, no default port, no trailing slash). The configured origins are normalized
to that form when the middleware is built; what a client sends is never normalized, so
`https://GOOD.example` does not pass for `https://good.example` (browsers never send
the first; a client that does is not a browser, and CORS does not concern it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Final

from ..headers import Headers, encode_header
from ..responses import PlainTextResponse, Response
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import add_response_headers

__all__ = ["CORSMiddleware"]

# No origin a browser sends is this long (a DNS name has at most 253 characters): a
# longer Origin is refused without being looked at further.
MAX_ORIGIN_LENGTH: Final = 512
# Bounds on a preflight's Access-Control-Request-Headers.
MAX_REQUEST_HEADERS: Final = 64
MAX_REQUEST_HEADERS_LENGTH: Final = 4096
MAX_METHOD_LENGTH: Final = 64

# The serialized origin of a URL with a host (RFC 6454 section 6.1, URL standard): only
# the characters a browser can put there, so what matches can be sent back as it is.
_ORIGIN = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://"
    r"(?:[A-Za-z0-9\-._~]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?"
)
# The same, in the lower case a browser sends, with the parts named: configuration.
_CONFIGURED = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.\-]*)://"
    r"(?P<host>[a-z0-9\-._~]+|\[(?P<ipv6>[0-9a-f:.]+)\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_ALLOW_ORIGIN = b"access-control-allow-origin"
# Any regex that matches these matches origins nobody can have meant to allow.
_PROBES = ("https://bare-cors-probe.invalid", "http://bare-cors-probe.invalid:8080")
# Request headers a browser may send cross-origin without asking (Fetch, "CORS-safelisted
# request-header"), when their values are plain. Content-Type is not here: the browser
# asks for it exactly when its value is not plain (application/json), so it is listed
# in `allow_headers` on purpose or refused.
_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language"})

Pairs = list[tuple[bytes, bytes]]


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers to the responses of allowed origins.

    - `allow_origins`: the origins allowed, as `scheme://host[:port]`; `["*"]` for any
      origin (answered with `Access-Control-Allow-Origin: *`, never reflected), and
      `"null"` only when listed.
    - `allow_origin_regex`: more origins, those the pattern matches in full (it is
      anchored for you: `re.fullmatch`).
    - `allow_methods`: the methods a preflight may ask for (`GET`, `HEAD`, `POST`);
      `["*"]` allows whichever is asked.
    - `allow_headers`: the request headers a preflight may ask for (none besides the
      safelisted `Accept`, `Accept-Language` and `Content-Language`); `["*"]` allows
      whichever are asked.
    - `allow_credentials`: let cookies and HTTP authentication through (False).
    - `expose_headers`: response headers the page's script may read.
    - `max_age`: how long the browser may cache a preflight's answer, in seconds (600;
      None to send no `Access-Control-Max-Age`).

    A mistake in these raises `ValueError` or `TypeError` here, not at the first request.
    """

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Iterable[str] = (),
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_methods: Iterable[str] = ("GET", "HEAD", "POST"),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int | None = 600,
    ) -> None:
        self.app = app
        if not isinstance(allow_credentials, bool):
            raise TypeError(
                f"allow_credentials must be True or False, not {type(allow_credentials).__name__}"
            )
        origins = _names("allow_origins", allow_origins)
        self.any_origin = "*" in origins
        if self.any_origin:
            if len(origins) > 1:
                raise ValueError("allow_origins=['*'] allows every origin: list no others with it")
            if allow_origin_regex is not None:
                raise ValueError("allow_origins=['*'] allows every origin: drop allow_origin_regex")
            if allow_credentials:
                raise ValueError(
                    "allow_credentials=True cannot go with allow_origins=['*'] (any site could "
                    "read your users' data): list the origins you trust"
                )
        self.origins = frozenset(_origin(origin) for origin in origins if origin != "*")
        if allow_credentials and "null" in self.origins:
            raise ValueError(
                "allow_credentials=True cannot go with 'null' in allow_origins: any site can "
                "send Origin: null (from a sandboxed iframe), so it is the same as '*'"
            )
        self.origin_regex = _regex(allow_origin_regex)
        if not origins and self.origin_regex is None:
            raise ValueError(
                "CORSMiddleware allows no origin: give allow_origins=['https://app.example'] "
                "or allow_origin_regex"
            )
        methods = _names("allow_methods", allow_methods)
        self.any_method = _wildcard("allow_methods", methods)
        self.methods = frozenset(_token("allow_methods", m).upper() for m in methods)
        headers = _names("allow_headers", allow_headers)
        self.any_header = _wildcard("allow_headers", headers)
        self.headers = frozenset(_token("allow_headers", h).lower() for h in headers)
        exposed = _names("expose_headers", expose_headers)
        if _wildcard("expose_headers", exposed) and allow_credentials:
            raise ValueError(
                "expose_headers=['*'] exposes nothing with credentials (browsers take it as "
                "a header named '*'): list the header names"
            )
        for name in exposed:
            if name != "*":
                _token("expose_headers", name)
        if max_age is not None and (
            not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0
        ):
            raise ValueError(f"max_age must be seconds (an int >= 0) or None, not {max_age!r}")
        self.allow_credentials = allow_credentials
        self.max_age = max_age

        # What every answer to an allowed origin carries besides the origin itself.
        common: Pairs = []
        if allow_credentials:
            common.append((b"access-control-allow-credentials", b"true"))
        # The headers of actual (non-preflight) responses to an allowed origin.
        self._actual = list(common)
        if exposed:
            self._actual.append(encode_header("access-control-expose-headers", ", ".join(exposed)))
        # The preflight's own, fixed parts.
        self._preflight = list(common)
        if not self.any_method:
            self._preflight.append(
                encode_header("access-control-allow-methods", ", ".join(sorted(self.methods)))
            )
        if not self.any_header and self.headers:
            self._preflight.append(
                encode_header("access-control-allow-headers", ", ".join(sorted(self.headers)))
            )
        if max_age is not None:
            self._preflight.append(encode_header("access-control-max-age", str(max_age)))
        # With "*" the answer is the same for every request, with an Origin or without
        # (Fetch, "CORS protocol and HTTP caches": send it always, and no Vary). Otherwise
        # it depends on the Origin, and caches must know it.
        self._any: Pairs = [(_ALLOW_ORIGIN, b"*"), *self._actual]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # CORS is for fetches: WebSockets check Origin themselves
            await self.app(scope, receive, send)
            return
        headers = Headers(scope.get("headers", ()))
        origins = headers.getlist("origin")
        if origins and scope["method"] == "OPTIONS":
            asked = headers.getlist("access-control-request-method")
            if asked:
                await self._answer_preflight(scope, receive, send, origins, asked, headers)
                return
        if self.any_origin:
            extra, vary = self._any, False
        else:
            origin = self._allowed(origins)
            extra = [] if origin is None else [(_ALLOW_ORIGIN, origin), *self._actual]
            vary = True
        if add_response_headers(scope, [*extra, (b"vary", b"Origin")] if vary else extra):
            # bare adds them to whatever it answers: error pages, 404s and the 500 of a
            # crashing handler included.
            await self.app(scope, receive, send)
            return
        await self._call_wrapped(scope, receive, send, extra, vary)

    async def _call_wrapped(
        self, scope: Scope, receive: Receive, send: Send, extra: Pairs, vary: bool
    ) -> None:
        """Call an app that does not take the hand-over: add the headers to its start
        message, and answer a 500 carrying them if it fails before starting one."""
        started = False

        async def send_with_cors(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", ()), *extra]
                message = {**message, "headers": _vary_origin(headers) if vary else headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_cors)
        except Exception:
            if started:
                raise
            # The server would answer 500 without CORS headers, and the browser would
            # report a CORS error instead of the server error. Answer it here, then
            # re-raise so the server still logs the exception (it sees a response already
            # sent, and closes the connection).
            error = PlainTextResponse("Internal Server Error", 500)
            error.raw_headers += extra
            if vary:
                error.raw_headers.append((b"vary", b"Origin"))
            # If the client is gone, the app's exception is still the one to see.
            with contextlib.suppress(Exception):
                await error(scope, receive, send)
            raise

    def _allowed(self, origins: list[str]) -> bytes | None:
        """The Origin header to send back, or None if this one is not allowed."""
        if len(origins) != 1:  # two Origin headers: no browser sends that
            return None
        origin = origins[0]
        if origin in self.origins:  # `null` is only ever allowed here, by name
            return origin.encode("ascii")
        regex = self.origin_regex
        if (
            regex is not None
            and len(origin) <= MAX_ORIGIN_LENGTH
            and _ORIGIN.fullmatch(origin) is not None
            and regex.fullmatch(origin) is not None
        ):
            return origin.encode("ascii")
        return None

    async def _answer_preflight(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        origins: list[str],
        asked: list[str],
        headers: Headers,
    ) -> None:
        """Answer an `OPTIONS` with `Origin` and `Access-Control-Request-Method`."""
        vary: list[str] = []
        refused: list[str] = []
        origin: bytes | None = b"*"
        if not self.any_origin:
            vary.append("Origin")
            origin = self._allowed(origins)
            if origin is None:
                refused.append("origin")
        answer: Pairs = [(_ALLOW_ORIGIN, origin or b""), *self._preflight]

        method = asked[0] if len(asked) == 1 else ""
        if len(method) > MAX_METHOD_LENGTH or _TOKEN.fullmatch(method) is None:
            refused.append("method")
        elif self.any_method:
            vary.append("Access-Control-Request-Method")
            answer.append((b"access-control-allow-methods", method.encode("ascii")))
        elif method not in self.methods:  # methods are case-sensitive (Fetch)
            refused.append("method")

        requested = _requested_headers(headers.getlist("access-control-request-headers"))
        if requested is None:
            refused.append("headers")
        elif self.any_header:
            vary.append("Access-Control-Request-Headers")
            if requested:
                value = ", ".join(requested).encode("ascii")  # tokens only: checked above
                answer.append((b"access-control-allow-headers", value))
        elif any(h not in self.headers and h not in _SAFELISTED_HEADERS for h in requested):
            refused.append("headers")

        if refused:
            # Plain, and without a word of what was asked: the browser only needs to see
            # that it is not OK.
            response: Response = PlainTextResponse(f"Disallowed CORS {', '.join(refused)}", 400)
        else:
            response = Response(status=204, content_type=None)
            response.raw_headers += answer
        if vary:
            response.raw_headers.append((b"vary", ", ".join(vary).encode("ascii")))
        await response(scope, receive, send)


def _requested_headers(values: list[str]) -> list[str] | None:
    """The header names a preflight asks for, lower-cased, or None if the list is
    malformed or too long."""
    if not values:
        return []
    joined = ",".join(values)
    if len(joined) > MAX_REQUEST_HEADERS_LENGTH:
        return None
    names = []
    for item in joined.split(","):
        name = item.strip(" \t")
        if not name:
            continue
        if _TOKEN.fullmatch(name) is None:
            return None
        names.append(name.lower())
    if len(names) > MAX_REQUEST_HEADERS:
        return None
    return names


def _vary_origin(headers: Pairs) -> Pairs:
    """`headers` with `Origin` in their `Vary`: added to the one there is, if any."""
    values = [value for name, value in headers if name.lower() == b"vary"]
    if not values:
        return [*headers, (b"vary", b"Origin")]
    tokens = [t.strip(b" \t") for value in values for t in value.split(b",")]
    if any(t == b"*" or t.lower() == b"origin" for t in tokens):
        return headers  # `*` already says it varies on everything
    merged = b", ".join([*(t for t in tokens if t), b"Origin"])
    kept = [(name, value) for name, value in headers if name.lower() != b"vary"]
    return [*kept, (b"vary", merged)]


def _names(option: str, values: Iterable[str]) -> list[str]:
    """The items of a list option, each a str (a lone str would be read letter by letter)."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{option} must be a list of str, like [{values!r}], not a single str")
    items = list(values)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{option} must hold str, not {type(item).__name__}: {item!r}")
    return items


def _wildcard(option: str, values: list[str]) -> bool:
    if "*" not in values:
        return False
    if len(values) > 1:
        raise ValueError(f"{option}=['*'] allows any: list no others with it")
    return True


def _token(option: str, value: str) -> str:
    if _TOKEN.fullmatch(value) is None:
        raise ValueError(f"{option}: {value!r} is not a valid HTTP method or header name")
    return value


def _origin(origin: str) -> str:
    """A configured origin, in the form a browser sends it (lower-case, no default port)."""
    if origin == "null":
        return origin
    if not origin.isascii():
        raise ValueError(
            f"allow_origins: {origin!r} is not ASCII: write the host in its punycode form "
            "(xn--...), as browsers send it"
        )
    match = _CONFIGURED.fullmatch(origin.lower())
    if match is None:
        if "*" in origin:
            hint = "a wildcard goes in allow_origin_regex (r'https://[a-z0-9-]+\\.example\\.com')"
        elif "://" not in origin:
            hint = "write the scheme too, as in 'https://app.example'"
        elif "/" in origin.partition("://")[2]:
            hint = "an origin has no path, not even '/': write 'scheme://host[:port]'"
        else:
            hint = "write 'scheme://host[:port]', as in 'https://app.example:8443'"
        raise ValueError(f"allow_origins: {origin!r} is not an origin: {hint}")
    scheme, host, port = match["scheme"], match["host"], match["port"]
    if match["ipv6"] is not None:
        import ipaddress  # here: an IPv6 literal in the configuration is rare

        try:
            host = f"[{ipaddress.IPv6Address(match['ipv6']).compressed}]"
        except ValueError:
            raise ValueError(f"allow_origins: {origin!r} has an invalid IPv6 address") from None
    if port is not None:
        number = int(port)
        if number > 65535:
            raise ValueError(f"allow_origins: {origin!r} has a port beyond 65535")
        # Browsers leave the scheme's default port out, and write no leading zeros.
        port = None if number == _DEFAULT_PORTS.get(scheme) else str(number)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _regex(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if isinstance(pattern, str):
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"allow_origin_regex is not a valid regex: {exc}") from None
    elif isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
        compiled = pattern
    else:
        raise TypeError(f"allow_origin_regex must be a str, not {type(pattern).__name__}")
    for probe in _PROBES:
        if compiled.fullmatch(probe) is not None:
            raise ValueError(
                f"allow_origin_regex matches any origin ({probe!r}): spell out your domains, "
                r"as in r'https://[a-z0-9-]+\.example\.com'"
            )
    return compiled
