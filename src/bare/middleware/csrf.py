"""`CSRFMiddleware`: cross-site request forgery protection for cookie-authenticated forms,
by signed double submit (a token in a cookie, the same token in a header or form field).

A token is `nonce.signature`: 16 random bytes and their HMAC-SHA256 under a key derived
from the secret, both in unpadded base64url. A request with an unsafe method passes
only if its cookie holds a token signed by us and the header (or the form field of a
urlencoded body, or the first field of a multipart one) holds the very same token.
Another site can make the browser send the cookie but can neither read it nor set the
header; a cookie planted from a sibling domain fails the signature unless it was copied
from a real visit, which the `Origin` check stops.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from .._cookies import cookie_header
from .._paths import route_path
from ..requests import HTTPConnection, is_valid_host
from ..responses import JSONResponse
from ..sessions import SecretKey, Signer, cookie_values
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import add_response_headers

__all__ = [
    "CSRF_KEY",
    "DEFAULT_FIELD_NAME",
    "DEFAULT_HEADER_NAME",
    "SAFE_METHODS",
    "CSRFMiddleware",
    "csrf_field_name",
    "csrf_input",
    "csrf_token",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_HEADER_NAME = "X-CSRF-Token"
DEFAULT_FIELD_NAME = "csrf_token"
#: The scope key of this request's CSRF state (read through `csrf_token(request)`).
CSRF_KEY = "bare.csrf"

_TOKEN_LENGTH = 22 + 1 + 43  # base64url of 16 bytes, ".", base64url of 32
_VARY = (b"vary", b"Cookie")
_URLENCODED = b"application/x-www-form-urlencoded"
_MULTIPART = b"multipart/form-data"
_MIN_TOKEN_PART = 1024  # the smallest max_token_part_size: a browser's token part fits
_FIELD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_HEADER_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}

Exempt = Iterable[str] | Callable[[Scope], bool]


class _State:
    """This request's token, for `csrf_token()`, and whether a page has used it."""

    __slots__ = ("field", "handover", "token", "used")

    def __init__(self, token: str, field: str, handover: Scope | None) -> None:
        self.token = token
        self.field = field
        self.handover = handover  # the scope whose bare app adds headers, if any
        self.used = False


def _state(request: HTTPConnection | Scope) -> _State:
    scope = request.scope if isinstance(request, HTTPConnection) else request
    state = scope.get(CSRF_KEY)
    if not isinstance(state, _State):
        raise RuntimeError(
            "csrf_token() needs CSRFMiddleware: "
            "app.add_middleware(bare.middleware.csrf.CSRFMiddleware, secret_key=...)"
        )
    return state


def csrf_token(request: HTTPConnection | Scope) -> str:
    """The CSRF token to put in this request's forms (or its scope's).

    The response then gets `Vary: Cookie`: a page holding the token belongs to one
    browser. Raises `RuntimeError` without `CSRFMiddleware`.
    """
    state = _state(request)
    if not state.used:
        state.used = True
        if state.handover is not None:
            add_response_headers(state.handover, [_VARY])
    return state.token


def csrf_field_name(request: HTTPConnection | Scope) -> str:
    """The name of the form field the token goes in (`csrf_token` unless configured)."""
    return _state(request).field


def csrf_input(request: HTTPConnection | Scope) -> str:
    """A hidden `<input>` holding the token, to put inside a `<form method="post">`."""
    state = _state(request)
    # Both are checked characters (base64url, ".", and field-name characters): no escaping.
    return f'<input type="hidden" name="{state.field}" value="{csrf_token(request)}">'


class CSRFMiddleware:
    """Refuse unsafe requests (POST, PUT, PATCH, DELETE...) that do not prove they come
    from this site's own pages, with 403.

    Proof is the token of the `csrftoken` cookie sent back in the `X-CSRF-Token` header
    (from JavaScript, which can read the cookie) or in the `csrf_token` field of a form
    (put it there with `csrf_input(request)` or `csrf_token(request)`): anywhere in an
    `application/x-www-form-urlencoded` body (read whole, up to `max_body_size`), and
    as the *first* field of a `multipart/form-data` one, whose start alone is read (up
    to `max_token_part_size`) so that uploads stream on to the app. Other bodies (JSON)
    need the header. The token must be signed with `secret_key` (one of them, for
    rotation), and compared in constant time. An `Origin` header, when the browser
    sends one, must be this site's (the `Host` header with the request's scheme) or one
    of `trusted_origins`.

    Safe methods (GET, HEAD, OPTIONS, TRACE) always pass, and get the cookie if they
    came without a valid one. `exempt` lists paths left unchecked: exact (`/hooks/mail`)
    or a prefix ending in `/*` (`/api/*`), matched against the path under the app's
    `root_path` (as routes are), or it is a callable taking the scope.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: SecretKey,
        cookie_name: str = "csrftoken",
        header_name: str = DEFAULT_HEADER_NAME,
        field_name: str = DEFAULT_FIELD_NAME,
        exempt: Exempt = (),
        trusted_origins: Iterable[str] = (),
        check_origin: bool = True,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_secure: bool = False,
        cookie_samesite: str | None = "lax",
        cookie_max_age: int | None = None,
        max_body_size: int = 1024 * 1024,
        max_token_part_size: int = 16 * 1024,
    ) -> None:
        self.app = app
        if (
            not isinstance(header_name, str)
            or not header_name
            or not _HEADER_CHARACTERS.issuperset(header_name)
        ):
            raise ValueError(
                "CSRFMiddleware header_name must be a header name such as 'X-CSRF-Token', "
                f"not {header_name!r}"
            )
        if (
            not isinstance(field_name, str)
            or not field_name
            or not _FIELD_CHARACTERS.issuperset(field_name)
        ):
            raise ValueError(
                "CSRFMiddleware field_name must be letters, digits, '_', '-' or '.', "
                f"not {field_name!r}"
            )
        for option, flag in (("check_origin", check_origin), ("cookie_secure", cookie_secure)):
            if not isinstance(flag, bool):
                raise TypeError(f"CSRFMiddleware {option} must be True or False, not {flag!r}")
        if (
            isinstance(max_body_size, bool)
            or not isinstance(max_body_size, int)
            or max_body_size < 1
        ):
            raise ValueError(
                f"CSRFMiddleware max_body_size must be an int of 1 or more, not {max_body_size!r}"
            )
        if (
            isinstance(max_token_part_size, bool)
            or not isinstance(max_token_part_size, int)
            or max_token_part_size < _MIN_TOKEN_PART
        ):
            raise ValueError(
                f"CSRFMiddleware max_token_part_size must be an int of {_MIN_TOKEN_PART} or "
                f"more (a multipart form's token part must fit), not {max_token_part_size!r}"
            )
        if cookie_max_age is not None and (
            isinstance(cookie_max_age, bool)
            or not isinstance(cookie_max_age, int)
            or cookie_max_age < 1
        ):
            raise ValueError(
                "CSRFMiddleware cookie_max_age must be an int of 1 or more, or None for a "
                f"cookie that ends with the browser session; not {cookie_max_age!r}"
            )
        if not isinstance(cookie_name, str):
            raise TypeError(f"CSRFMiddleware cookie_name must be a str, not {cookie_name!r}")
        try:
            # NOTE: not HttpOnly: the page's JavaScript reads the token to send it back.
            sample = cookie_header(
                cookie_name,
                "v",
                cookie_max_age,
                None,
                cookie_path,
                cookie_domain,
                cookie_secure,
                False,
                cookie_samesite,
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"CSRFMiddleware: {exc}") from None
        self._attributes = sample[len(cookie_name) + 2 :]
        self.cookie_name = cookie_name
        self.header_name = header_name
        self.field_name = field_name
        self.check_origin = check_origin
        self.max_body_size = max_body_size
        self.max_token_part_size = max_token_part_size
        self._cookie = cookie_name.encode("latin-1")
        self._header = header_name.lower().encode("latin-1")
        self._field = field_name.encode("ascii")
        self._first_field = (
            f"CSRF token missing: a multipart form must send its {field_name} field first"
        )
        self._exempt_exact, self._exempt_prefixes, self._exempt_test = _exemptions(exempt)
        self.trusted_origins = frozenset(
            _origin(origin) for origin in _origin_list(trusted_origins)
        )
        self._signer = Signer(secret_key, "bare.csrf", owner="CSRFMiddleware")

    # -- tokens ---------------------------------------------------------------------------

    def new_token(self) -> str:
        """A fresh token signed with the first secret."""
        nonce = secrets.token_urlsafe(16).encode("ascii")
        return (nonce + b"." + self._signer.signature(nonce)).decode("ascii")

    def is_valid(self, token: bytes) -> bool:
        """Whether `token` was signed by us (with any of the secrets)."""
        if len(token) != _TOKEN_LENGTH:
            return False
        nonce, _, signature = token.partition(b".")
        return self._signer.verify(nonce, signature)

    def _cookie_token(self, scope: Scope) -> bytes | None:
        for value in cookie_values(scope.get("headers", ()), self._cookie, 4):
            if self.is_valid(value):
                return value
        return None

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        known = self._cookie_token(scope)
        if scope["method"] not in SAFE_METHODS and not self._is_exempt(scope):
            problem = self._origin_problem(scope) if self.check_origin else None
            unread = False  # a form body not read to its end: a refusal closes the connection
            if problem is None:
                if known is None:
                    problem = "CSRF cookie missing or invalid"
                else:
                    submitted = _header(scope, self._header)
                    missing = "CSRF token missing"
                    if submitted is None:
                        media_type = _media_type(scope)
                        if media_type == _URLENCODED:
                            body = await self._read_body(scope, receive, send)
                            if body is None:
                                return  # answered (413) or the client left
                            messages, content = body
                            submitted = _form_field(content, self._field)
                            receive = _replay(messages, receive)
                        elif media_type == _MULTIPART:
                            start = await self._read_token_part(scope, receive)
                            if start is None:
                                return  # the client left
                            messages, submitted, missing = start
                            receive = _replay(messages, receive)
                            unread = not messages or messages[-1].get("more_body", False)
                    if submitted is None:
                        problem = missing
                    elif not hmac.compare_digest(submitted, known):
                        problem = "CSRF token incorrect"
            if problem is not None:
                headers = {"connection": "close"} if unread else None
                await JSONResponse({"detail": problem}, 403, headers=headers)(scope, receive, send)
                return
        extra: list[tuple[bytes, bytes]] = []
        if known is None:
            token = self.new_token()
            cookie = f"{self.cookie_name}={token}{self._attributes}"
            extra.append((b"set-cookie", cookie.encode("ascii")))
        else:
            token = known.decode("ascii")
        if add_response_headers(scope, extra):
            scope[CSRF_KEY] = _State(token, self.field_name, scope)
            await self.app(scope, receive, send)
            return
        state = scope[CSRF_KEY] = _State(token, self.field_name, None)
        started = False

        async def send_with_token(message: Message) -> None:
            nonlocal started
            if not started and message["type"] == "http.response.start":
                started = True
                added = [*extra, _VARY] if state.used else extra
                if added:
                    message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_token)

    def _is_exempt(self, scope: Scope) -> bool:
        if self._exempt_exact or self._exempt_prefixes:
            path = route_path(scope)  # as routes see it: without a proxy's root_path
            if path in self._exempt_exact:
                return True
            if any(path.startswith(prefix) for prefix in self._exempt_prefixes):
                return True
        test = self._exempt_test
        return test is not None and bool(test(scope))

    def _origin_problem(self, scope: Scope) -> str | None:
        """Why the request's `Origin` is not trusted; None if it is, or if there is none
        (not a browser, or an old one: the token decides alone)."""
        raw = _header(scope, b"origin")
        if raw is None:
            return None
        origin = raw.decode("latin-1").lower()
        if origin in self.trusted_origins:
            return None
        scheme, sep, netloc = origin.partition("://")
        host = _header(scope, b"host")
        if not sep or scheme not in _DEFAULT_PORTS or host is None:
            return "CSRF check failed: untrusted origin"
        # The scheme is only held to the request's own when the request came over https:
        # behind a proxy that ends TLS, the app sees http for an https page.
        if scope.get("scheme") == "https" and scheme != "https":
            return "CSRF check failed: untrusted origin"
        default_port = _DEFAULT_PORTS[scheme]
        own = host.decode("latin-1").lower().removesuffix(default_port)
        if netloc.removesuffix(default_port) != own:
            return "CSRF check failed: untrusted origin"
        return None

    async def _read_body(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[list[Message], bytes] | None:
        """The whole body (and the messages it came in), at most `max_body_size` bytes;
        None once a 413 has been sent or the client has gone."""
        declared = _header(scope, b"content-length")
        if (
            declared is not None
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > self.max_body_size)
        ):
            await _too_large(self.max_body_size)(scope, receive, send)
            return None
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return None
            size += len(message.get("body", b""))
            if size > self.max_body_size:
                await _too_large(self.max_body_size)(scope, receive, send)
                return None
            messages.append(message)
            if not message.get("more_body", False):
                break
        return messages, b"".join(m.get("body", b"") for m in messages)

    async def _read_token_part(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[Message], bytes | None, str] | None:
        """The start of a multipart body: the messages read, the value of its first
        part if that is the token field (else None), and why there is none. Reads only
        until that part has ended, and at most `max_token_part_size` bytes; None if
        the client has gone."""
        from ..exceptions import HTTPException  # here: only multipart forms need these
        from ..forms import multipart_boundary

        messages: list[Message] = []
        content_type = _header(scope, b"content-type") or b""
        try:
            boundary = multipart_boundary(content_type.decode("latin-1").partition(";")[2])
        except HTTPException:  # missing or not RFC 2046's: nothing to read
            return messages, None, self._first_field
        limit = self.max_token_part_size
        delimiter = b"\r\n--" + boundary.encode("latin-1")
        head = bytearray()  # the first `limit` bytes at most
        start = 0  # where the first part's headers begin, once known
        resume = 0  # where the search for the delimiter goes on
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return None
            messages.append(message)
            if len(head) < limit:
                head += message.get("body", b"")[: limit - len(head)]
            if not start:
                start = _opening(head, delimiter)
                if start < 0:
                    return messages, None, self._first_field
            if start:
                # The part ends at the first delimiter: a value never holds one.
                end = head.find(delimiter, max(start, resume))
                if end >= 0:
                    value = _token_value(bytes(head[start:end]), self._field)
                    return messages, value, self._first_field
                resume = len(head) - len(delimiter) + 1
            if len(head) >= limit:
                return (
                    messages,
                    None,
                    f"{self._first_field}, within its first {limit} bytes (max_token_part_size)",
                )
            if not message.get("more_body", False):  # cut short
                return messages, None, self._first_field


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"Request body too large (limit {limit} bytes)"},
        413,
        headers={"connection": "close"},
    )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = iter(messages)  # NOTE: not list.pop(0): quadratic in many small messages

    async def replay() -> Message:
        message = next(pending, None)
        if message is not None:
            return message
        return await receive()  # after what was read: the rest, then the disconnect

    return replay


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _media_type(scope: Scope) -> bytes | None:
    content_type = _header(scope, b"content-type")
    if content_type is None:
        return None
    return content_type.partition(b";")[0].strip().lower()


# -- the first part of a multipart body -------------------------------------------------
#
# Not a multipart parser: it reads the one part a browser sends first when the form's
# first field is the token, and refuses anything else. Stricter than bare's form parser
# (the `multipart` package, strict mode) wherever the two could differ, so that the part
# it takes for the token field is the app's first field too.

# RFC 9110 token characters, for header names.
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# `form-data; name=...` and nothing else (a `filename` makes a file part), the name
# quoted or not; no backslash escapes, no other parameters. The type and the parameter's
# name are matched without regard to case, the field's name exactly (compared after).
_DISPOSITION = re.compile(
    rb'[ \t]*form-data *; *name *= *("?)([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\1[ \t]*',
    re.IGNORECASE,
)


def _opening(head: bytearray, delimiter: bytes) -> int:
    """Where the first part's headers begin after the body's first boundary line
    (`--boundary CRLF`, with one CRLF allowed in front, as bare's parser allows); 0
    if `head` is too short to tell, -1 if the body does not start so."""
    openings = (delimiter[2:] + b"\r\n", delimiter + b"\r\n")
    for opening in openings:
        if head.startswith(opening):
            return len(opening)
    return 0 if any(opening.startswith(head) for opening in openings) else -1


def _token_value(part: bytes, field: bytes) -> bytes | None:
    """The value of the multipart `part` (its headers, a blank line, the value) if its
    headers name it the form field `field`, else None."""
    headers, blank, value = part.partition(b"\r\n\r\n")
    if not blank:
        return None
    named = False
    for line in headers.split(b"\r\n"):
        # A line that starts with a space (folding), a CR or LF alone, no colon: refused.
        name, colon, rest = line.partition(b":")
        if not colon or not _HEADER_NAME.fullmatch(name) or b"\r" in rest or b"\n" in rest:
            return None
        if name.lower() == b"content-disposition":
            disposition = _DISPOSITION.fullmatch(rest)
            if named or disposition is None or disposition[2] != field:
                return None
            named = True
    return value if named else None


def _form_field(body: bytes, field: bytes) -> bytes | None:
    """The first value of `field` in a urlencoded body, percent-decoded; None if absent."""
    from urllib.parse import unquote_to_bytes  # here: only form posts without the header

    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name != field:
            if b"%" not in name and b"+" not in name:
                continue
            if unquote_to_bytes(name.replace(b"+", b" ")) != field:
                continue
        return unquote_to_bytes(value.replace(b"+", b" "))
    return None


def _exemptions(
    exempt: Exempt,
) -> tuple[frozenset[str], tuple[str, ...], Callable[[Scope], bool] | None]:
    if callable(exempt):
        return frozenset(), (), exempt
    if isinstance(exempt, (str, bytes)):
        raise TypeError(
            f"CSRFMiddleware exempt must be a list of paths or a callable, not a string: "
            f"write exempt=[{exempt!r}]"
        )
    exact: set[str] = set()
    prefixes: list[str] = []
    for path in exempt:
        if not isinstance(path, str):
            raise TypeError(f"CSRFMiddleware exempt paths must be str, not {path!r}")
        pattern = path[:-1] if path.endswith("/*") else path
        if (
            not pattern.startswith("/")
            or "*" in pattern
            or any(c in pattern for c in "?#")
            or not pattern.isprintable()
            or " " in pattern
        ):
            raise ValueError(
                f"CSRFMiddleware exempt path {path!r} must be a path starting with '/', "
                "exact ('/hooks/mail') or a prefix ending in '/*' ('/api/*'), without "
                "spaces, '?', '#' or other '*'"
            )
        if path.endswith("/*"):
            prefixes.append(pattern)
        else:
            exact.add(pattern)
    return frozenset(exact), tuple(prefixes), None


def _origin_list(origins: Iterable[str]) -> list[str]:
    if isinstance(origins, (str, bytes)):
        raise TypeError(
            f"CSRFMiddleware trusted_origins must be a list, not a string: write "
            f"trusted_origins=[{origins!r}]"
        )
    return list(origins)


def _origin(origin: Any) -> str:
    """`origin` checked and lowered: `scheme://host[:port]`, as browsers send it."""
    if isinstance(origin, str):
        scheme, sep, host = origin.lower().partition("://")
        if sep and scheme in _DEFAULT_PORTS and host and "*" not in host and is_valid_host(host):
            return f"{scheme}://{host.removesuffix(_DEFAULT_PORTS[scheme])}"
    raise ValueError(
        f"CSRFMiddleware trusted origin {origin!r} must be 'http(s)://host[:port]', with "
        "no path, no trailing '/' and no wildcard (e.g. 'https://app.example.com')"
    )
