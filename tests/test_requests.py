"""Request: the scope read lazily, and the body read safely."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bare import Bare, Request

Call = Callable[..., Any]


def echo_app(extract: Callable[[Request], Any], **app_options: Any) -> Bare:
    """An app whose one route answers with `extract(request)` (awaited if needed)."""
    app = Bare(**app_options)

    @app.route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def handler(request: Request) -> Any:
        result = extract(request)
        if hasattr(result, "__await__"):
            result = await result
        return {"result": result}

    return app


async def body_length(request: Request) -> int:
    return len(await request.body())


def result(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.json()["result"]


def test_request_line_and_headers(asgi_call: Call) -> None:
    app = echo_app(
        lambda r: [
            r.method,
            r.path,
            r.query_string,
            r.header("X-Token"),
            r.header("nope", "dflt"),
            r.content_type,
        ]
    )
    headers = [(b"host", b"example.com"), (b"x-token", b"abc"), (b"content-type", b"text/plain")]
    reply = asgi_call(app, "PUT", "/a/b", query=b"x=1", headers=headers)
    assert result(reply) == ["PUT", "/a/b", "x=1", "abc", "dflt", "text/plain"]


def test_headers_are_multi_valued(asgi_call: Call) -> None:
    app = echo_app(
        lambda r: [r.headers.getlist("accept"), r.headers["ACCEPT"], "accept" in r.headers]
    )
    reply = asgi_call(app, "GET", "/", headers=[(b"accept", b"a"), (b"accept", b"b")])
    assert result(reply) == [["a", "b"], "a", True]


def test_query_params(asgi_call: Call) -> None:
    app = echo_app(
        lambda r: [
            r.query_params,
            r.query_params.getlist("a"),
            r.query("a"),
            r.query("missing", "d"),
        ]
    )
    reply = asgi_call(app, "GET", "/", query=b"a=1&a=2&b=caf%C3%A9&empty=")
    assert result(reply) == [
        {"a": ["1", "2"], "b": ["caf\u00e9"], "empty": [""]},
        ["1", "2"],
        "1",
        "d",
    ]


def test_too_many_query_params_is_a_400(asgi_call: Call) -> None:
    app = echo_app(lambda r: r.query("a"))
    reply = asgi_call(app, "GET", "/", query=b"&".join(b"a=%d" % i for i in range(1001)))
    assert reply.status == 400
    assert reply.json() == {"detail": "Too many query parameters (limit 1000)"}
    assert (
        result(asgi_call(app, "GET", "/", query=b"&".join(b"a=%d" % i for i in range(1000)))) == "0"
    )


def test_cookies(asgi_call: Call) -> None:
    app = echo_app(lambda r: r.cookies)
    headers = [(b"cookie", b'a=1; b="quoted"; =nameless; junk; a=2'), (b"cookie", b"c=3")]
    assert result(asgi_call(app, "GET", "/", headers=headers)) == {
        "a": "1",
        "b": "quoted",
        "c": "3",
    }


def test_cookie_limits(asgi_call: Call) -> None:
    app = echo_app(lambda r: len(r.cookies))
    many = "; ".join(f"c{i}=v" for i in range(500)).encode()
    assert result(asgi_call(app, "GET", "/", headers=[(b"cookie", many)])) == 200
    huge = b"a=" + b"x" * 9000 + b"; b=1"
    assert result(asgi_call(app, "GET", "/", headers=[(b"cookie", huge)])) == 0


def test_url_client_and_url_for(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/items/{id:int}", name="item")
    async def item(request: Request) -> Any:
        return {
            "url": str(request.url),
            "base": str(request.base_url),
            "for": str(request.url_for("item", id=9)),
            "client": list(request.client or ()),
        }

    reply = asgi_call(
        app, "GET", "/items/1", query=b"q=2", headers=[(b"host", b"example.com:8080")]
    )
    assert reply.json() == {
        "url": "http://example.com:8080/items/1?q=2",
        "base": "http://example.com:8080/",
        "for": "http://example.com:8080/items/9",
        "client": ["127.0.0.1", 50000],
    }
    proxied = asgi_call(app, "GET", "/items/1", root_path="/api", headers=[(b"host", b"h")])
    assert proxied.json()["url"] == "http://h/api/items/1"
    assert proxied.json()["for"] == "http://h/api/items/9"


def test_url_keeps_the_path_encoded(asgi_call: Call) -> None:
    app = echo_app(lambda r: [str(r.url), r.url.path, r.url.query])
    reply = asgi_call(app, "GET", "/f/a b?c#d\u00e9", query=b"x=%20")
    assert result(reply) == [
        "http://testserver/f/a%20b%3Fc%23d%C3%A9?x=%20",
        "/f/a%20b%3Fc%23d%C3%A9",
        "x=%20",
    ]


def test_state_starts_from_the_lifespan_state(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/")
    async def index(request: Request) -> Any:
        request.state.seen = True
        return dict(request.state)

    assert asgi_call(app, "GET", "/").json() == {"seen": True}


# -- the body ------------------------------------------------------------------------------


def test_body_text_and_stream(asgi_call: Call) -> None:
    async def chunks(request: Request) -> Any:
        return [chunk.decode() async for chunk in request.stream()]

    reply = asgi_call(echo_app(chunks), "POST", "/", chunks=[b"ab", b"", b"cd"])
    assert result(reply) == ["ab", "cd"]
    reply = asgi_call(echo_app(lambda r: r.text()), "POST", "/", chunks=[b"ab", b"", b"cd"])
    assert result(reply) == "abcd"


def test_json_body(asgi_call: Call) -> None:
    app = echo_app(lambda r: r.json())
    headers = [(b"content-type", b"application/json; charset=utf-8")]
    assert result(asgi_call(app, "POST", "/", body=b'{"a": [1, 2]}', headers=headers)) == {
        "a": [1, 2]
    }
    problem = [(b"content-type", b"application/problem+json")]
    assert result(asgi_call(app, "POST", "/", body=b"[1]", headers=problem)) == [1]


@pytest.mark.parametrize(
    "content_type",
    [b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data", b""],
)
def test_json_needs_a_json_content_type(asgi_call: Call, content_type: bytes) -> None:
    app = echo_app(lambda r: r.json())
    reply = asgi_call(app, "POST", "/", body=b"{}", headers=[(b"content-type", content_type)])
    assert reply.status == 415
    assert reply.json() == {"detail": "Content-Type must be application/json"}
    relaxed = echo_app(lambda r: r.json(strict_content_type=False))
    assert (
        result(
            asgi_call(relaxed, "POST", "/", body=b"{}", headers=[(b"content-type", content_type)])
        )
        == {}
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": ',
        b"NaN",
        b"[Infinity]",
        b"\xff",
        b"9" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * 257 + b"]" * 257,
        b'"\\ud800"',
        b"[" * 600 + b'"\\ud800"' + b"]" * 600,
        b"[" * 200 + b'{"\\udfff": 1}' + b"]" * 200,
        b"1e999",
        b"-1e999",
        b'{"a": [1, {"b": 1E400}]}',
        b"1" * 400 + b".0",
    ],
    ids=[
        "truncated",
        "nan",
        "infinity",
        "not-utf8",
        "huge-int",
        "deep",
        "just-too-deep",
        "surrogate",
        "deep-surrogate",
        "surrogate-key",
        "overflow",
        "negative-overflow",
        "nested-overflow",
        "long-float",
    ],
)
def test_malformed_json_is_a_400(asgi_call: Call, body: bytes, caplog: Any) -> None:
    app = echo_app(lambda r: r.json())
    reply = asgi_call(app, "POST", "/", body=body, headers=[(b"content-type", b"application/json")])
    assert reply.status == 400
    assert reply.json() == {"detail": "Request body is not valid JSON"}
    assert caplog.records == []  # a client error: nothing logged


def test_deep_and_large_json_within_the_limits_round_trips(asgi_call: Call) -> None:
    app = echo_app(lambda r: r.json())
    headers = [(b"content-type", b"application/json")]
    for body in (
        b"[" * 256 + b"]" * 256,
        b"[" * 255 + b'"\\ud83d\\ude00"' + b"]" * 255,
        b"[1e308,-1.5e-320,123456789012345678901234567890]",
    ):
        reply = asgi_call(app, "POST", "/", body=body, headers=headers)
        assert reply.status == 200, reply.body
        assert reply.json()["result"] == json.loads(body)


def test_invalid_utf8_text_is_a_400(asgi_call: Call) -> None:
    reply = asgi_call(echo_app(lambda r: r.text()), "POST", "/", body=b"\xc3\x28")
    assert (reply.status, reply.json()) == (400, {"detail": "Request body is not valid UTF-8"})


def test_declared_length_over_the_limit_is_refused_before_reading(asgi_call: Call) -> None:
    app = echo_app(body_length, max_body_size=10)
    reply = asgi_call(app, "POST", "/", body=b"x" * 11, headers=[(b"content-length", b"11")])
    assert reply.status == 413
    assert reply.json() == {"detail": "Request body too large (limit 10 bytes)"}
    assert reply.header("connection") == "close"
    assert reply.receives == 0


def test_streamed_body_over_the_limit_is_cut_off(asgi_call: Call) -> None:
    app = echo_app(body_length, max_body_size=10)
    reply = asgi_call(app, "POST", "/", chunks=[b"x" * 6, b"x" * 6, b"x" * 6])
    assert reply.status == 413
    assert reply.receives == 2  # stopped at the chunk that crossed the limit


def test_default_limit_is_one_mebibyte(asgi_call: Call) -> None:
    app = echo_app(body_length)
    size = 1024 * 1024
    assert asgi_call(app, "POST", "/", chunks=[b"x" * size]).status == 200
    assert asgi_call(app, "POST", "/", chunks=[b"x" * size, b"x"]).status == 413


def test_per_route_limits(asgi_call: Call) -> None:
    app = Bare(max_body_size=4)

    @app.post("/big", max_body_size=100)
    async def big(request: Request) -> int:
        return len(await request.body())

    @app.post("/any", max_body_size=None)
    async def anything(request: Request) -> int:
        return len(await request.body())

    @app.post("/small")
    async def small(request: Request) -> int:
        return len(await request.body())

    assert asgi_call(app, "POST", "/big", body=b"x" * 100).body == b"100"
    assert asgi_call(app, "POST", "/big", body=b"x" * 101).status == 413
    assert asgi_call(app, "POST", "/any", chunks=[b"x" * 1000] * 5).body == b"5000"
    assert asgi_call(app, "POST", "/small", body=b"x" * 5).status == 413


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1 2", b"\xd9\xa3"])
def test_invalid_content_length_is_a_400(asgi_call: Call, value: bytes) -> None:
    reply = asgi_call(echo_app(body_length), "POST", "/", headers=[(b"content-length", value)])
    assert (reply.status, reply.json()) == (400, {"detail": "Invalid Content-Length header"})


def test_client_disconnecting_mid_body_gets_no_response(asgi_call: Call) -> None:
    seen = []

    async def read(request: Request) -> Any:
        try:
            return await request.body()
        finally:
            seen.append(await request.is_disconnected())

    reply = asgi_call(echo_app(read), "POST", "/", chunks=[b"part"], disconnect=True)
    assert reply.status == 0 and reply.messages == []  # nobody left to answer
    assert seen == [True]


def test_is_disconnected_keeps_unread_body(asgi_call: Call) -> None:
    async def check(request: Request) -> Any:
        return [await request.is_disconnected(), (await request.body()).decode()]

    assert result(asgi_call(echo_app(check), "POST", "/", body=b"kept")) == [False, "kept"]


def test_body_is_cached_and_stream_is_single_use(asgi_call: Call) -> None:
    async def twice(request: Request) -> Any:
        first = await request.body()
        second = await request.body()
        streamed = [c async for c in request.stream()]
        return [first.decode(), second.decode(), [c.decode() for c in streamed]]

    assert result(asgi_call(echo_app(twice), "POST", "/", body=b"abc")) == ["abc", "abc", ["abc"]]

    async def stream_twice(request: Request) -> Any:
        [c async for c in request.stream()]
        return await request.body()

    reply = asgi_call(echo_app(stream_twice), "POST", "/", body=b"abc")
    assert reply.status == 500  # a handler bug, reported as such
    assert json.loads(reply.body) == {"detail": "Internal Server Error"}


def test_url_for_quotes_the_root_path(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/items/{name}", name="item")
    async def item(request: Request) -> Any:
        return [str(request.url_for("item", name="a b")), str(request.base_url)]

    reply = asgi_call(app, "GET", "/items/x", root_path="/my app", headers=[(b"host", b"h")])
    assert reply.json() == ["http://h/my%20app/items/a%20b", "http://h/my%20app/"]


# -- the Host header -----------------------------------------------------------------------


def url_parts(request: Request) -> list[str]:
    urls = (request.url, request.base_url, request.url_for("handler", path="x"))
    return [*map(str, urls), request.url.path]


@pytest.mark.parametrize(
    "host",
    [
        b"example.com/evil?",  # a peer's CVE: the path of request.url became "/evil"
        b"example.com/admin",
        b"a@b",
        b"user:pass@example.com",
        b"example.com?x",
        b"example.com#x",
        b"exa mple.com",
        b"example.com\t",
        b"example.com\x00",
        b"ex\xe4mple.com",  # not ASCII
        b"example.com:80x",
        b"example.com:80:81",
        b":80",
        b"[::1",
        b"[::1]x",
        b"[::g]",
        b"[fe80::1%25eth0]",
        b"[1.2.3.4]",
        b"::1",
        b"exa%zzmple.com",
        b"example.com\\evil",
    ],
)
def test_a_host_header_that_is_not_an_authority_is_a_400(asgi_call: Call, host: bytes) -> None:
    app = echo_app(url_parts)
    reply = asgi_call(app, "GET", "/admin/page", headers=[(b"host", host)])
    assert (reply.status, reply.json()) == (400, {"detail": "Invalid Host header"})
    for read in (lambda r: str(r.base_url), lambda r: str(r.url_for("handler", path="x"))):
        assert asgi_call(echo_app(read), "GET", "/", headers=[(b"host", host)]).status == 400


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"example.com", "http://example.com"),
        (b"example.com:8080", "http://example.com:8080"),
        (b"EXAMPLE.com.", "http://EXAMPLE.com."),
        (b"127.0.0.1:8000", "http://127.0.0.1:8000"),
        (b"[::1]:8000", "http://[::1]:8000"),
        (b"[::1]", "http://[::1]"),
        (b"[2001:db8::7]", "http://[2001:db8::7]"),
        (b"[::ffff:192.0.2.1]:443", "http://[::ffff:192.0.2.1]:443"),
        (b"[v1.fe80::a+en1]", "http://[v1.fe80::a+en1]"),
        (b"xn--caf-dma.example", "http://xn--caf-dma.example"),
        (b"ex%41mple.com", "http://ex%41mple.com"),
        (b"my_host-1.local:", "http://my_host-1.local:"),
    ],
)
def test_valid_host_headers_build_the_url(asgi_call: Call, host: bytes, origin: str) -> None:
    reply = asgi_call(
        echo_app(url_parts), "GET", "/admin/page", query=b"q=1", headers=[(b"host", host)]
    )
    assert result(reply) == [
        f"{origin}/admin/page?q=1",
        f"{origin}/",
        f"{origin}/x",
        "/admin/page",
    ]


@pytest.mark.parametrize(
    ("server", "origin"),
    [
        (("testserver", 80), "http://testserver"),
        (("10.0.0.1", 8000), "http://10.0.0.1:8000"),
        (("::1", 8000), "http://[::1]:8000"),
        (("/run/app.sock", None), "http://localhost"),  # a Unix socket: no address to show
        (None, "http://localhost"),
    ],
)
def test_without_a_host_header_the_server_address_stands_in(
    asgi_call: Call, server: Any, origin: str
) -> None:
    reply = asgi_call(echo_app(url_parts), "GET", "/p", headers=[(b"x", b"y")], server=server)
    assert result(reply) == [f"{origin}/p", f"{origin}/", f"{origin}/x", "/p"]
    empty = asgi_call(echo_app(url_parts), "GET", "/p", headers=[(b"host", b"")], server=server)
    assert result(empty)[0] == f"{origin}/p"


def test_a_bad_host_is_only_refused_where_the_url_is_built(asgi_call: Call) -> None:
    reply = asgi_call(echo_app(lambda r: r.path), "GET", "/x", headers=[(b"host", b"a@b")])
    assert result(reply) == "/x"


def test_the_fixture_fails_a_second_receive_instead_of_hanging(asgi_call: Call) -> None:
    async def reads_twice(request: Request) -> Any:
        await request.body()
        return await request._receive()

    with pytest.raises(AssertionError, match="receive\\(\\) again after the body was consumed"):
        asgi_call(echo_app(reads_twice), "POST", "/", body=b"x")
