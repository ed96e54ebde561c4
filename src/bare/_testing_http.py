"""The test client's HTTP pieces: URLs, request bodies (forms, JSON, multipart) and responses."""

from __future__ import annotations

import codecs
import json as jsonlib
import mimetypes
import os
import secrets
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import SplitResult, quote, unquote, urlencode, urljoin, urlsplit

from ._testing_cookies import parse_set_cookie
from .headers import check_header

__all__ = [
    "URL",
    "ClientHeaders",
    "ClientRequest",
    "ClientResponse",
    "HTTPStatusError",
    "PreparedRequest",
    "decode_content",
    "encode_body",
    "merge_headers",
    "quote_path",
    "raw_headers",
]

Primitive = str | int | float | bool | None
QueryParams = Mapping[str, Primitive | Sequence[Primitive]] | Sequence[tuple[str, Primitive]]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]]
FormData = Mapping[str, Primitive | bytes | Sequence[Primitive | bytes]]
FileContent = bytes | str | IO[bytes] | IO[str]
FileSpec = (
    FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
Files = Mapping[str, FileSpec] | Sequence[tuple[str, FileSpec]]
Content = bytes | str | Iterable[bytes]
Body = bytes | list[bytes]  # a list is sent as chunks, with more_body=True between them

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 3986: what may stay unescaped in a path or a query (plus "%", to keep escapes as given).
_PATH_SAFE = "/%:@!$&'()*+,;="
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class URL:
    """An absolute URL, split into what a server needs. `path` and `query` are escaped."""

    scheme: str
    host: str
    port: int
    path: str
    query: str = ""

    @classmethod
    def parse(cls, text: str) -> URL:
        """Split `text`; a missing scheme is "http", a missing host "testserver"."""
        parts = urlsplit(text)
        scheme = parts.scheme.lower() or "http"
        port = parts.port or DEFAULT_PORTS.get(scheme, 80)
        path = quote_path(parts.path or "/")
        return cls(
            scheme, (parts.hostname or "testserver").lower(), port, path, _quote_query(parts)
        )

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def decoded_path(self) -> str:
        return unquote(self.path)

    def join(self, url: str, params: QueryParams | None = None) -> URL:
        """`url` (absolute, or a path relative to this URL's path) with `params` added."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            target = URL.parse(urljoin(str(self), url))
        else:
            path = self.path.rstrip("/") + "/" + parts.path.lstrip("/") if parts.path else self.path
            target = replace(self, path=quote_path(path), query=_quote_query(parts))
        if params:
            extra = urlencode(list(_pairs(params)), quote_via=quote)
            target = replace(target, query=f"{target.query}&{extra}" if target.query else extra)
        return target

    def with_scheme(self, scheme: str) -> URL:
        return replace(self, scheme=scheme)

    def with_path(self, path: str) -> URL:
        return replace(self, path=quote_path(path))

    def follow(self, location: str) -> URL:
        """The URL a `Location` header points to, resolved against this one."""
        return URL.parse(urljoin(str(self), location))

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}" + (
            f"?{self.query}" if self.query else ""
        )


@dataclass
class PreparedRequest:
    """A request ready to send; `host` and `cookie` headers are added at send time."""

    method: str
    url: URL
    headers: list[tuple[str, str]]
    body: Body = b""
    cookies: dict[str, str] = field(default_factory=dict)  # this request's own cookies


@dataclass(frozen=True)
class ClientRequest:
    """The request as the app received it: method, URL, headers and body."""

    method: str
    url: str
    headers: ClientHeaders
    content: bytes


class ClientHeaders(Mapping[str, str]):
    """Headers as the client shows them: case-insensitive, multi-valued, read-only.

    `headers[name]` and `get(name)` give the first value, `get_list(name)` (or
    `getlist`) every value in order, and `items()` every pair, repeats included.
    Names come out lower-cased; values are decoded as latin-1.
    """

    __slots__ = ("_pairs",)

    def __init__(self, raw: Iterable[Sequence[bytes]] = ()) -> None:
        self._pairs = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in raw_headers(raw)
        ]

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The pairs as bytes, the way they travel in ASGI messages."""
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._pairs]

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for item, value in self._pairs:
            if item == key:
                return value
        raise KeyError(name)

    def get_list(self, name: str) -> list[str]:
        """Every value of `name`, in order (`[]` if there is none)."""
        key = name.lower()
        return [value for item, value in self._pairs if item == key]

    getlist = get_list

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every (name, value) pair, repeated names included."""
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self._pairs))

    def __repr__(self) -> str:
        return f"ClientHeaders({self._pairs!r})"


class HTTPStatusError(Exception):
    """Raised by `ClientResponse.raise_for_status()` for a 4xx or 5xx response."""

    def __init__(self, message: str, response: ClientResponse) -> None:
        super().__init__(message)
        self.response = response


class ClientResponse:
    """What the app answered: status, headers and the whole body.

    `content` is the body with any gzip/deflate `Content-Encoding` undone; `text`
    decodes it with the charset of `Content-Type` (UTF-8 when there is none).
    """

    def __init__(
        self,
        status_code: int,
        headers: Iterable[Sequence[bytes]],
        content: bytes,
        request: ClientRequest,
        history: Sequence[ClientResponse] = (),
    ) -> None:
        self.status_code = status_code
        self.headers = ClientHeaders(headers)
        self.content = content
        self.request = request
        self.history = list(history)

    @property
    def url(self) -> str:
        """The URL that was requested (the last one, after redirects)."""
        return self.request.url

    @property
    def reason_phrase(self) -> str:
        """The standard phrase for the status ("Not Found"), or "" if there is none."""
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def encoding(self) -> str:
        """The charset named by `Content-Type`, if Python knows it; else "utf-8"."""
        charset = _content_type_param(self.headers.get("content-type") or "", "charset")
        if charset:
            try:
                return codecs.lookup(charset).name
            except LookupError:
                pass
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with `encoding`; undecodable bytes become U+FFFD."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (`json.loads` detects UTF-8, -16 and -32)."""
        return jsonlib.loads(self.content, **kwargs)

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies this response set (name to value), leaving out those it deleted."""
        url, now = URL.parse(self.url), time.time()
        parsed = (
            parse_set_cookie(header, url.host, url.decoded_path, now)
            for header in self.headers.getlist("set-cookie")
        )
        return {c.name: c.value for c in parsed if c is not None and not c.expired(now)}

    @property
    def is_redirect(self) -> bool:
        """A 301, 302, 303, 307 or 308 with a `Location` header."""
        return self.status_code in REDIRECT_STATUSES and "location" in self.headers

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300

    def raise_for_status(self) -> ClientResponse:
        """Raise `HTTPStatusError` for a 4xx or 5xx status; return the response otherwise."""
        if self.status_code >= 400:
            kind = "client error" if self.status_code < 500 else "server error"
            message = f"{self.status_code} {self.reason_phrase} ({kind}) for {self.url}"
            raise HTTPStatusError(message, self)
        return self

    def __repr__(self) -> str:
        return f"<ClientResponse [{self.status_code} {self.reason_phrase}]>"


def merge_headers(*sources: HeaderInput | None) -> list[tuple[str, str]]:
    """Combine header sets; a name given by a later set replaces all earlier values."""
    merged: list[tuple[str, str]] = []
    for source in sources:
        if not source:
            continue
        pairs = list(source.items()) if isinstance(source, Mapping) else list(source)
        for name, value in pairs:
            check_header(name, value)
        names = {name.lower() for name, _ in pairs}
        merged = [(n, v) for n, v in merged if n not in names]
        merged.extend((name.lower(), value) for name, value in pairs)
    return merged


def encode_body(
    *,
    content: Content | None = None,
    data: FormData | str | bytes | None = None,
    json: Any = None,
    files: Files | None = None,
) -> tuple[Body, str | None]:
    """The request body and the `Content-Type` it calls for (None: leave it to the caller)."""
    pairs = (("content", content), ("data", data), ("json", json))
    given = [name for name, value in pairs if value is not None]
    if files is not None:
        if content is not None or json is not None or isinstance(data, (str, bytes)):
            raise TypeError("files= goes with a data= mapping only")
        return encode_multipart(data or {}, files)
    if len(given) > 1:
        raise TypeError(f"give only one of content=, data= and json= (got {', '.join(given)})")
    if json is not None:
        text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8"), "application/json"
    if isinstance(data, (str, bytes)):
        return (data.encode("utf-8") if isinstance(data, str) else data), None
    if data is not None:
        form = [(name, _text(value)) for name, value in _pairs(data)]
        return urlencode(form).encode("ascii"), "application/x-www-form-urlencoded"
    if content is None:
        return b"", None
    if isinstance(content, str):
        return content.encode("utf-8"), None
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content), None
    return [bytes(chunk) for chunk in content], None


def encode_multipart(data: FormData, files: Files) -> tuple[bytes, str]:
    """A `multipart/form-data` body (RFC 7578): the `data` fields, then the files."""
    parts: list[tuple[str, bytes]] = []
    for name, value in _pairs(data):
        head = f'Content-Disposition: form-data; name="{_escape(name)}"\r\n'
        parts.append((head, value if isinstance(value, bytes) else _text(value).encode()))
    for name, spec in files.items() if isinstance(files, Mapping) else files:
        filename, payload, content_type, extra = _file_part(name, spec)
        head = f'Content-Disposition: form-data; name="{_escape(name)}"'
        if filename is not None:
            head += f'; filename="{_escape(filename)}"'
        head += f"\r\nContent-Type: {content_type}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        parts.append((head, payload))
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in payload for _, payload in parts):  # pragma: no cover
        boundary = secrets.token_hex(16)
    chunks: list[bytes] = []
    for head, payload in parts:
        chunks += [f"--{boundary}\r\n{head}\r\n".encode(), payload, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def decode_content(headers: ClientHeaders, body: bytes) -> bytes:
    """Undo a gzip or deflate `Content-Encoding` (the client asks for those two).

    An empty body stays empty: a HEAD answer or a 304 has the headers and no body.
    """
    if not body:
        return body
    for coding in reversed((headers.get("content-encoding") or "").lower().split(",")):
        coding = coding.strip()
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # some servers send a raw deflate stream, no zlib wrapper
                body = zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def raw_headers(headers: Iterable[Sequence[bytes]] | None) -> list[tuple[bytes, bytes]]:
    """ASGI headers (any iterable of name/value pairs) as a list of byte tuples."""
    return [(bytes(name), bytes(value)) for name, value in headers or ()]


def quote_path(path: str) -> str:
    """`path` as it goes on the wire: non-ASCII and unsafe characters %-escaped."""
    return quote(path, safe=_PATH_SAFE)


def _file_part(name: str, spec: FileSpec) -> tuple[str | None, bytes, str, Mapping[str, str]]:
    filename: str | None
    content_type: str | None = None
    extra: Mapping[str, str] = {}
    if isinstance(spec, tuple):
        filename, content = spec[0], spec[1]
        if len(spec) > 2:
            content_type = spec[2]
        if len(spec) > 3:
            extra = spec[3]
    else:
        content = spec
        path = getattr(spec, "name", None)
        filename = os.path.basename(path) if isinstance(path, str) else name
    payload = content if isinstance(content, (str, bytes)) else content.read()
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if content_type is None:
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        content_type = guessed or "application/octet-stream"
    return filename, payload, content_type, extra


def _pairs(items: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> Iterable[tuple[str, Any]]:
    """Flatten a mapping or a list of pairs; a list or tuple value gives one pair per item."""
    for name, value in items.items() if isinstance(items, Mapping) else items:
        if isinstance(value, (list, tuple)):
            for item in value:
                yield name, _text(item) if not isinstance(item, bytes) else item
        else:
            yield name, _text(value) if not isinstance(value, bytes) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _escape(value: str) -> str:
    # What browsers do to field names and filenames (HTML's multipart/form-data algorithm).
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def _quote_query(parts: SplitResult) -> str:
    return quote(parts.query, safe=_QUERY_SAFE)


def _content_type_param(content_type: str, name: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None
