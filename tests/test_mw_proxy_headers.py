"""ProxyHeadersMiddleware: client address, scheme, host and prefix from a trusted proxy.

Unit tests call the middleware around an app that records the scope it is given;
others go through bare and `TestClient`; the last ones run uvicorn (with its own proxy
handling off) and send spoofed headers with httpx from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bare import Bare, Request
from bare.middleware import proxy_headers
from bare.middleware.proxy_headers import MAX_HOPS, ProxyHeadersMiddleware
from bare.testing import TestClient

Headers = list[tuple[bytes, bytes]]


def seen(
    headers: dict[str, str] | Headers | None = None,
    /,
    *,
    peer: tuple[str, int] | None = ("127.0.0.1", 5000),
    kind: str = "http",
    host: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """The scope the app behind the middleware gets, for a request from `peer`."""
    raw: Headers = (
        [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if isinstance(headers, dict)
        else list(headers or [])
    )
    if host and not any(name == b"host" for name, _ in raw):
        raw.insert(0, (b"host", b"app.internal"))
    scope: dict[str, Any] = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "path": "/users",
        "raw_path": b"/users",
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": peer,
        "server": ("10.9.9.9", 8000),
    }
    captured: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        captured.update(scope)

    asyncio.run(ProxyHeadersMiddleware(app, **options)(scope, _no_receive, _no_send))
    return captured


async def _no_receive() -> Any:  # pragma: no cover - the recording app never reads
    raise AssertionError


async def _no_send(message: Any) -> None:  # pragma: no cover
    raise AssertionError


def client_of(value: str, **options: Any) -> Any:
    return seen({"x-forwarded-for": value}, **options)["client"]


def host_of(scope: dict[str, Any]) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == b"host"]


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "message"),
    [
        (["10.0.0.1/8"], "'10.0.0.1/8' is not an IP address or network .*host bits set"),
        (["proxy.internal"], "'proxy.internal' is not an IP address or network"),
        ("10.0.0.1, nonsense", "'nonsense' is not an IP address"),
        (["fe80::1%eth0"], "has an IPv6 zone"),
        ([], "trusted_proxies is empty"),
        ("", "trusted_proxies is empty"),
        ([" ", ""], "trusted_proxies is empty"),
    ],
)
def test_unusable_trusted_proxies_are_refused(trusted: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProxyHeadersMiddleware(_app, trusted_proxies=trusted)


def test_options_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(TypeError, match=r"entries are strings .* not int 10"):
        ProxyHeadersMiddleware(_app, trusted_proxies=[10])
    with pytest.raises(TypeError, match="must be a list of addresses"):
        ProxyHeadersMiddleware(_app, trusted_proxies=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'x-forwarded', 'forwarded' or 'both', not 'x-real-ip'"):
        ProxyHeadersMiddleware(_app, headers="x-real-ip")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trust_host must be True or False, not 'yes'"):
        ProxyHeadersMiddleware(_app, trust_host="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trust_prefix must be True or False"):
        ProxyHeadersMiddleware(_app, trust_prefix=1)  # type: ignore[arg-type]


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    pass


def test_importing_bare_does_not_import_the_middleware() -> None:
    code = "import sys, bare; print('bare.middleware.proxy_headers' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- who is trusted ------------------------------------------------------------------------


def test_headers_from_a_peer_that_is_not_trusted_are_ignored() -> None:
    headers = {
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "evil.example",
        "x-forwarded-prefix": "/evil",
    }
    scope = seen(headers, peer=("198.51.100.1", 4000), trust_host=True, trust_prefix=True)
    assert scope["client"] == ("198.51.100.1", 4000)
    assert (scope["scheme"], scope["root_path"], scope["path"]) == ("http", "", "/users")
    assert host_of(scope) == [b"app.internal"]


def test_loopback_is_trusted_by_default() -> None:
    for peer in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):  # the last: a dual-stack socket
        scope = seen(
            {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}, peer=(peer, 1)
        )
        assert (scope["client"], scope["scheme"]) == (("203.0.113.7", 0), "https")
    assert client_of("203.0.113.7", peer=("127.0.0.2", 1)) == ("127.0.0.2", 1)


@pytest.mark.parametrize(
    ("trusted", "peer", "trusts"),
    [
        (["10.0.0.0/8"], ("10.1.2.3", 1), True),
        (["10.0.0.0/8"], ("11.0.0.1", 1), False),
        ("10.0.0.1, 192.0.2.0/24", ("192.0.2.77", 1), True),
        (["2001:db8::/32"], ("2001:db8:0:0::9", 1), True),
        (["2001:db8::1"], ("2001:DB8::1", 1), True),
        (["10.0.0.1"], ("not an address", 1), False),
        (["10.0.0.1"], None, False),
        (["unix"], None, True),
        (["unix"], ("", 0), True),
        (["unix"], ("10.0.0.1", 1), False),
        (["*"], ("198.51.100.1", 1), True),
        (["*"], None, True),
    ],
)
def test_which_peers_are_trusted(trusted: Any, peer: Any, trusts: bool) -> None:
    client = client_of("203.0.113.7", peer=peer, trusted_proxies=trusted)
    assert client == (("203.0.113.7", 0) if trusts else peer)


# -- the client address --------------------------------------------------------------------

INTERNAL = {"trusted_proxies": ["10.0.0.0/8"], "peer": ("10.0.0.9", 1)}


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("203.0.113.7", ("203.0.113.7", 0)),
        ("203.0.113.7, 10.0.0.2, 10.0.0.3", ("203.0.113.7", 0)),  # proxies skipped
        ("6.6.6.6, 203.0.113.7, 10.0.0.2", ("203.0.113.7", 0)),  # the client's own claim
        ("10.0.0.1, 203.0.113.7", ("203.0.113.7", 0)),  # claiming a trusted address
        ("10.0.0.1, 10.0.0.2", ("10.0.0.1", 0)),  # trusted all the way: the left-most
        ("garbage, 203.0.113.7", ("203.0.113.7", 0)),  # garbage left of the client
        ("203.0.113.7, garbage", None),  # the proxy could not say
        ("203.0.113.7, unknown", None),
        ("203.0.113.7, _hidden", None),
        ("203.0.113.7, unknown, 10.0.0.2", None),
        ("203.0.113.7:5678", ("203.0.113.7", 5678)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        ("2001:DB8:0:0::1", ("2001:db8::1", 0)),  # written the usual way
        ("::ffff:203.0.113.7", ("203.0.113.7", 0)),  # an IPv4 client, seen over IPv6
        ("[::ffff:203.0.113.7]:80", ("203.0.113.7", 80)),
        ("203.0.113.7:99999", None),
        ("203.0.113.7:", None),
        ("203.0.113.7:0x50", None),
        ("[2001:db8::1", None),
        ("[203.0.113.7]", None),
        ("[2001:db8::1]443", None),
        ("fe80::1%eth0", None),
        ("203.0.113.007", None),
        ("1.2.3.4.5", None),
        ("203.0.113.7 10.0.0.2", None),
        ("203.0.113.7,, ,\t", ("203.0.113.7", 0)),  # empty list items are skipped
        ("", ("10.0.0.9", 1)),  # no addresses: nothing said
    ],
)
def test_the_client_is_the_right_most_address_not_trusted(chain: str, client: Any) -> None:
    assert client_of(chain, **INTERNAL) == client


def test_several_x_forwarded_for_lines_make_one_list() -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-for", b"10.0.0.2")]
    assert seen(headers, **INTERNAL)["client"] == ("203.0.113.7", 0)


def test_only_the_last_hops_are_read() -> None:
    # However long the list a client starts, the proxy's own entry is what counts.
    assert client_of("1.1.1.1, " * 10_000 + "203.0.113.7") == ("203.0.113.7", 0)
    trusted = ", ".join(f"10.0.0.{i}" for i in range(1, 41))  # 40 trusted hops
    assert client_of("203.0.113.7, " + trusted, **INTERNAL) == (f"10.0.0.{41 - MAX_HOPS}", 0)
    everyone = ", ".join(f"192.0.2.{i}" for i in range(1, 41))
    assert client_of(everyone, trusted_proxies="*") == (f"192.0.2.{41 - MAX_HOPS}", 0)


def test_trusting_everyone_believes_any_claim() -> None:
    assert client_of("127.0.0.1", trusted_proxies="*", peer=("198.51.100.1", 1)) == (
        "127.0.0.1",
        0,
    )


def test_the_callers_headers_list_is_not_changed() -> None:
    original = [(b"host", b"app.internal"), (b"x-forwarded-host", b"example.com")]
    kept = list(original)
    scope = seen(original, trust_host=True)
    assert original == kept
    assert host_of(scope) == [b"example.com"]


# -- scheme ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "proto", "scheme"),
    [
        ("http", "https", "https"),
        ("http", "HTTPS", "https"),
        ("http", "http", "http"),
        ("http", "wss", "http"),  # not an HTTP scheme: ignored
        ("http", "ftp", "http"),
        ("http", "https\r\n", "http"),
        ("http", "", "http"),
        ("websocket", "https", "wss"),
        ("websocket", "http", "ws"),
        ("websocket", "wss", "wss"),
        ("websocket", "javascript", "ws"),
    ],
)
def test_the_scheme_is_http_or_https(kind: str, proto: str, scheme: str) -> None:
    headers = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": proto}
    assert seen(headers, kind=kind)["scheme"] == scheme


@pytest.mark.parametrize(
    ("chain", "protos", "scheme"),
    [
        ("203.0.113.7", "https", "https"),
        (None, "https", "https"),  # a proxy that says only the scheme
        ("203.0.113.7, 10.0.0.2", "https, http", "https"),  # one per hop: the client's
        ("10.0.0.1, 203.0.113.7, 10.0.0.2", "http, https, http", "https"),
        ("203.0.113.7, 10.0.0.2", "https, http, http", "http"),  # cannot be matched
        (None, "https, http", "http"),
    ],
)
def test_a_list_of_schemes_is_matched_to_the_hops(
    chain: str | None, protos: str, scheme: str
) -> None:
    headers = {"x-forwarded-proto": protos}
    if chain is not None:
        headers["x-forwarded-for"] = chain
    assert seen(headers, **INTERNAL)["scheme"] == scheme


# -- host --------------------------------------------------------------------------------


def test_the_forwarded_host_is_used_only_when_trusted() -> None:
    headers = {"x-forwarded-for": "203.0.113.7", "x-forwarded-host": "example.com"}
    assert host_of(seen(headers)) == [b"app.internal"]
    assert host_of(seen(headers, trust_host=True)) == [b"example.com"]


@pytest.mark.parametrize(
    "host",
    [
        "evil.example/path",
        "user@evil.example",
        "evil.example?x",
        "a b",
        "evil.example\r\nx-injected: 1",
        "évil.example",
        "[::1",
        "[nonsense]",
        "",
        "a" * 600,
    ],
)
def test_an_invalid_forwarded_host_is_ignored(host: str) -> None:
    headers = [(b"x-forwarded-host", host.encode("latin-1", "replace"))]
    assert host_of(seen(headers, trust_host=True)) == [b"app.internal"]


def test_a_forwarded_host_with_a_port_or_ipv6_is_kept() -> None:
    for host in ("example.com:8443", "[2001:db8::1]:443", "192.0.2.1"):
        headers = {"x-forwarded-host": host}
        assert host_of(seen(headers, trust_host=True)) == [host.encode()]


def test_a_request_with_two_hosts_is_left_for_the_app_to_refuse() -> None:
    headers = [(b"host", b"a"), (b"host", b"b"), (b"x-forwarded-host", b"example.com")]
    assert host_of(seen(headers, trust_host=True)) == [b"a", b"b"]
    app = _whoami(trust_host=True)
    response = TestClient(app, client=("127.0.0.1", 1)).get(
        "/users", headers=[("host", "a"), ("host", "b"), ("x-forwarded-host", "example.com")]
    )
    assert response.status_code == 400


def test_a_request_without_a_host_gets_one() -> None:
    headers: Headers = [(b"x-forwarded-host", b"example.com")]
    scope = seen(headers, host=False, trust_host=True)
    assert scope["headers"] == [*headers, (b"host", b"example.com")]


# -- prefix ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "root_path"),
    [
        ("/api", "/api"),
        ("/api/", "/api"),
        ("/api/v1", "/api/v1"),
        ("/a-b_c.d~e!$&'()*+;=:@", "/a-b_c.d~e!$&'()*+;=:@"),
        ("/", ""),
        ("api", ""),
        ("//evil.example", ""),
        ("/a/../b", ""),
        ("/a/..", ""),
        ("/a/./b", ""),
        ("/a//b", ""),
        ("/a%2e%2e", ""),
        ("/a?x=1", ""),
        ("/a#x", ""),
        ("/a\\b", ""),
        ("/a b", ""),
        ("/a\tb", ""),
        ("/a\x00", ""),
        ("/a,/b", ""),
        ("/é", ""),
        ("/" + "a" * 600, ""),
    ],
)
def test_the_prefix_must_be_a_plain_absolute_path(prefix: str, root_path: str) -> None:
    headers = [(b"x-forwarded-prefix", prefix.encode("latin-1", "replace"))]
    scope = seen(headers, trust_prefix=True)
    assert scope["root_path"] == root_path
    assert scope["path"] == root_path + "/users"
    assert scope["raw_path"] == root_path.encode("latin-1") + b"/users"


def test_the_prefix_is_used_only_when_trusted_and_given_once() -> None:
    headers = [(b"x-forwarded-prefix", b"/api")]
    assert seen(headers)["root_path"] == ""
    twice = [(b"x-forwarded-prefix", b"/api"), (b"x-forwarded-prefix", b"/other")]
    assert seen(twice, trust_prefix=True)["root_path"] == ""


def test_the_prefix_goes_in_front_of_the_servers_root_path() -> None:
    app = _whoami(trust_prefix=True)
    client = TestClient(app, client=("127.0.0.1", 1), root_path="/inner")
    seen_ = client.get("/users", headers={"x-forwarded-prefix": "/api"}).json()
    assert seen_["root_path"] == "/api/inner"
    assert seen_["url"] == "http://testserver/api/inner/users"
    assert seen_["path"] == "/api/inner/users"


# -- Forwarded (RFC 7239) -----------------------------------------------------------------


def forwarded(value: str, **options: Any) -> dict[str, Any]:
    return seen({"forwarded": value}, headers="forwarded", trust_host=True, **options)


@pytest.mark.parametrize(
    ("value", "client"),
    [
        ("for=203.0.113.7", ("203.0.113.7", 0)),
        ('for="203.0.113.7"', ("203.0.113.7", 0)),
        ('for="[2001:db8:cafe::17]:4711"', ("2001:db8:cafe::17", 4711)),
        ('for="[2001:db8:cafe::17]"', ("2001:db8:cafe::17", 0)),
        ("for=203.0.113.7:8080", ("203.0.113.7", 8080)),  # should be quoted; understood
        ('for="203.0.113.7:_port"', ("203.0.113.7", 0)),  # an obfuscated port
        ("For=203.0.113.7;By=10.0.0.1", ("203.0.113.7", 0)),
        ("for=203.0.113.7;;proto=https;", ("203.0.113.7", 0)),
        ("for=203.0.113.7 ; proto=https", ("203.0.113.7", 0)),
        ('for="\\2\\03.0.113.7"', ("203.0.113.7", 0)),  # quoted-pairs
        ("for=unknown", None),
        ("for=_hidden", None),
        ('for="2001:db8::1"', None),  # IPv6 without brackets
        ('for="[2001:db8::1]:99999"', None),
        ('for="203.0.113.7', None),  # the quoted string never ends
        ("for=203.0.113.7;for=198.51.100.1", None),  # a parameter twice
        ("for", None),
        ("for=", None),
        ("=203.0.113.7", None),
        ("for=203.0.113.7 proto=https", None),
        ("for=[2001:db8::1]", ("2001:db8::1", 0)),  # should be quoted; understood
        ('for="a\x01b"', None),
        ("proto=https", ("127.0.0.1", 5000)),  # says nothing of the client
    ],
)
def test_forwarded_elements(value: str, client: Any) -> None:
    assert forwarded(value)["client"] == client


def test_forwarded_chains_are_walked_from_the_right() -> None:
    value = "for=6.6.6.6;proto=http, for=203.0.113.7;proto=https;host=example.com, for=10.0.0.2"
    scope = forwarded(value, **INTERNAL)
    assert scope["client"] == ("203.0.113.7", 0)
    assert scope["scheme"] == "https"  # the scheme and host of the client's element
    assert host_of(scope) == [b"example.com"]
    # A client's broken element, left of the proxy's, does not matter.
    scope = forwarded('for="6.6.6.6, for=203.0.113.7;proto=https', **INTERNAL)
    assert (scope["client"], scope["scheme"]) == (("203.0.113.7", 0), "https")
    # A broken element where the client's should be: nothing of it is believed.
    scope = forwarded("for=203.0.113.7;proto=https;host=evil.example;host=x", **INTERNAL)
    assert (scope["client"], scope["scheme"], host_of(scope)) == (None, "http", [b"app.internal"])


def test_forwarded_host_and_proto_are_checked() -> None:
    scope = forwarded('for=203.0.113.7;proto=https;host="example.com:8443"')
    assert (scope["scheme"], host_of(scope)) == ("https", [b"example.com:8443"])
    scope = forwarded('for=203.0.113.7;proto=gopher;host="evil.example/x"')
    assert (scope["scheme"], host_of(scope)) == ("http", [b"app.internal"])


def test_which_family_of_headers_is_read() -> None:
    both = {
        "forwarded": "for=203.0.113.7;proto=https",
        "x-forwarded-for": "198.51.100.9",
        "x-forwarded-proto": "http",
    }
    x_only = {"x-forwarded-for": "198.51.100.9", "x-forwarded-proto": "https"}
    assert seen(both)["client"] == ("198.51.100.9", 0)  # default: X-Forwarded-*
    assert seen(both, headers="forwarded")["client"] == ("203.0.113.7", 0)
    scope = seen(both, headers="both")  # Forwarded wins, nothing mixed in
    assert (scope["client"], scope["scheme"]) == (("203.0.113.7", 0), "https")
    scope = seen(x_only, headers="both")
    assert (scope["client"], scope["scheme"]) == (("198.51.100.9", 0), "https")
    scope = seen(x_only, headers="forwarded")
    assert (scope["client"], scope["scheme"]) == (("127.0.0.1", 5000), "http")


# -- hostile input ----------------------------------------------------------------------


HOSTILE = [
    "," * 100_000,
    "[" * 100_000,
    '"' * 100_000,
    "for=" * 25_000,
    'for="' + "\\" * 100_000,
    "1.1.1.1:" * 12_500,
    ";" * 100_000,
    "for=1.1.1.1;" * 8_000,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_headers_are_read_in_bounded_work(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"node": 0, "element": 0}
    node, element = proxy_headers._node, proxy_headers._element

    def counting_node(*args: Any, **kwargs: Any) -> Any:
        calls["node"] += 1
        return node(*args, **kwargs)

    def counting_element(*args: Any, **kwargs: Any) -> Any:
        calls["element"] += 1
        return element(*args, **kwargs)

    monkeypatch.setattr(proxy_headers, "_node", counting_node)
    monkeypatch.setattr(proxy_headers, "_element", counting_element)
    headers = {
        "forwarded": value,
        "x-forwarded-for": value,
        "x-forwarded-proto": value,
        "x-forwarded-host": value,
        "x-forwarded-prefix": value,
    }
    for family in ("x-forwarded", "forwarded"):
        scope = seen(
            headers, headers=family, trust_host=True, trust_prefix=True, trusted_proxies="*"
        )
        assert scope["scheme"] == "http" and scope["root_path"] == ""
        assert host_of(scope) == [b"app.internal"]
    # The work is counted, not timed: at most MAX_HOPS hops are looked at, however long.
    assert calls["node"] <= 2 * MAX_HOPS and calls["element"] <= MAX_HOPS


# -- through bare -------------------------------------------------------------------------


def _whoami(**options: Any) -> Bare:
    app = Bare()
    app.add_middleware(ProxyHeadersMiddleware, **options)

    @app.get("/users", name="users")
    async def whoami(request: Request) -> Any:
        client = request.client
        return {
            "client": list(client) if client else None,
            "scheme": request.scope["scheme"],
            "url": str(request.url),
            "url_for": str(request.url_for("users")),
            "root_path": request.scope["root_path"],
            "path": request.path,
        }

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        client = websocket.client
        await websocket.send_json(
            {"client": list(client) if client else None, "url": str(websocket.url)}
        )
        await websocket.close()

    return app


def test_a_bare_app_sees_the_client_through_a_trusted_proxy() -> None:
    app = _whoami(trust_host=True, trust_prefix=True)
    headers = {
        "x-forwarded-for": "6.6.6.6, 203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "example.com",
        "x-forwarded-prefix": "/api",
    }
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        body = client.get("/users", headers=headers).json()
        assert body == {
            "client": ["203.0.113.7", 0],
            "scheme": "https",
            "url": "https://example.com/api/users",
            "url_for": "https://example.com/api/users",
            "root_path": "/api",
            "path": "/api/users",
        }
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {
                "client": ["203.0.113.7", 0],
                "url": "wss://example.com/api/ws",
            }
    outside = TestClient(app, client=("198.51.100.1", 40000)).get("/users", headers=headers)
    assert outside.json()["client"] == ["198.51.100.1", 40000]
    assert outside.json()["url"] == "http://testserver/users"


def test_lifespan_passes_through() -> None:
    app = _whoami()
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))
    with TestClient(app):
        pass
    assert started == [True]


def test_a_raw_app_sees_the_client_through_a_trusted_proxy() -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        body = f"{scope['client']} {scope['scheme']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = ProxyHeadersMiddleware(raw, trusted_proxies=["127.0.0.1"])
    headers = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}
    client = TestClient(app, client=("127.0.0.1", 1))
    assert client.get("/", headers=headers).text == "('203.0.113.7', 0) https"
    unknown = client.get("/", headers={"x-forwarded-for": "unknown"})
    assert unknown.text == "None http"


# -- a real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    from servers import free_port, serve, uvicorn_command

    pytest.importorskip("uvicorn")
    port = free_port()
    # uvicorn's own proxy handling is switched off: the middleware does the work.
    command = uvicorn_command("apps.mw_proxy:app", port, "--no-access-log", "--no-proxy-headers")
    yield from serve(command, port)


SPOOFED = {
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "example.com",
    "x-forwarded-prefix": "/api",
}


def test_a_real_server_behind_a_trusted_proxy(live: str) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(base_url=f"http://{live}", timeout=10) as client:
        body = client.get("/trusted/whoami", headers=SPOOFED).json()
        assert body["client"] == ["203.0.113.7", 0]
        assert body["scheme"] == "https"
        assert body["url"] == "https://example.com/api/trusted/whoami"
        # The chain as nginx builds it: the client's claim, then what the proxy saw.
        chained = client.get(
            "/trusted/whoami", headers={"x-forwarded-for": "127.0.0.1, 198.51.100.4"}
        )
        assert chained.json()["client"] == ["198.51.100.4", 0]


def test_a_real_server_ignores_a_peer_it_does_not_trust(live: str) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(base_url=f"http://{live}", timeout=10) as client:
        body = client.get("/untrusted/whoami", headers=SPOOFED).json()
        assert body["client"][0] == "127.0.0.1"
        assert body["client"][1] != 0  # the socket's own port
        assert body["scheme"] == "http"
        assert body["url"] == f"http://{live}/untrusted/whoami"
        assert body["root_path"] == "/untrusted"  # the mount's, without the spoofed /api


# -- the shortcuts agree with the slow path --------------------------------------------------


async def _never_called(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise AssertionError


PEERS = [
    "127.0.0.1",
    "127.0.0.2",
    "::1",
    "0:0::1",
    "::ffff:127.0.0.1",
    "10.0.0.1",
    "10.0.0.01",
    "10.1.2.3",
    "192.0.2.77",
    "2001:db8::1",
    "2001:DB8::1",
    "fe80::1%eth0",
    "",
    "garbage",
]


@pytest.mark.parametrize(
    "trusted", [["127.0.0.1", "::1"], ["10.0.0.1", "192.0.2.0/24"], ["10.0.0.0/8", "2001:db8::1"]]
)
def test_the_exact_address_shortcut_and_the_caches_agree_with_parsing(trusted: list[str]) -> None:
    # Guards the `_exact` and `_peers` shortcuts of ProxyHeadersMiddleware._trusts_peer.
    fast = ProxyHeadersMiddleware(_never_called, trusted)
    for _ in range(2):  # the second round answers from the cache
        for host in PEERS:
            address = proxy_headers._address(host) if host else None
            parsed = address is not None and fast._trusts(address)
            assert fast._trusts_peer((host, 1)) == parsed, (trusted, host)


def test_the_hop_cache_agrees_with_parsing() -> None:
    # Guards the cache of ProxyHeadersMiddleware._hop.
    middleware = ProxyHeadersMiddleware(_never_called, ["10.0.0.0/8"])
    hops = ["203.0.113.7", "10.0.0.2", "[2001:db8::1]:443", "203.0.113.7:5678", "garbage", ""]
    for brackets in (False, True):
        first = [middleware._hop(hop, {}, brackets) for hop in hops]
        cache: dict[str, Any] = {}
        for _ in range(2):
            assert [middleware._hop(hop, cache, brackets) for hop in hops] == first
