"""Take the client's address, scheme, host and path prefix from a trusted reverse proxy.

A proxy in front of the server is the server's peer: without this middleware,
`request.client` is the proxy and `request.url` says `http` even when the client used
`https`. The proxy says who the client was in `X-Forwarded-For` (and `-Proto`,
`-Host`, `-Prefix`) or in `Forwarded` (RFC 7239). Anyone can send those headers, so
they are read only when the direct peer, `scope["client"]`, is one of the trusted
proxies, and the client is the right-most address of the chain that is not a trusted
proxy itself: each proxy appends the address it got the request from, so everything
left of the first address we do not trust may have been written by the client.

Which headers are read is the user's choice (`headers=`), X-Forwarded-* by default:
a proxy passes on, untouched, the headers it does not set itself, so a reader of both
families would believe a client's `Forwarded` behind nginx. With `headers="both"`,
a request with a `Forwarded` header is read from it alone (it names the scheme and host
of each hop together with its address, where X-Forwarded-* lists must be matched up);
the two are never mixed. The forwarded host and prefix are opt-in for the same reason.

The scope is changed in place, as servers' own proxy handling does: bare keeps
per-request values in the same dict (the exception a test client re-raises, the state,
the headers other middleware hand over), and a copy would split them. Nothing the
scope holds is mutated: the headers list is replaced, never edited.

Hostile or broken values are ignored, never trusted: at most the last 32 hops are read
and each is bounded in length, so parsing is linear in the header's size; an address
that cannot be read (`unknown`, an obfuscated `_name`, garbage) ends the walk with the
client unknown (`scope["client"] = None`) rather than letting an address further left
(written by whom?) stand in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from .._paths import full_path
from ..requests import is_valid_host
from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["MAX_HOPS", "ProxyHeadersMiddleware"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Family = Literal["x-forwarded", "forwarded", "both"]

MAX_HOPS = 32  # addresses read from the right of a chain; the rest is not looked at
_MAX_NODE = 128  # one address with its port: an IPv6 address and a port are far shorter
_MAX_ELEMENT = 1024  # one Forwarded element: for, by, proto, host and extensions
_MAX_HOST = 512
_MAX_PREFIX = 512
_MAX_CACHE = 1024

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Unquoted Forwarded values: visible ASCII but for the delimiters. Laxer than the RFC's
# token (a proxy writing for=1.2.3.4:80 unquoted is understood), never laxer than that.
_BARE_VALUE = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset('";,')
# Inside a quoted string: HTAB, SP, visible ASCII and obs-text (RFC 9110 5.6.4).
_QUOTED = (
    frozenset("\t")
    | frozenset(chr(c) for c in range(0x20, 0x7F))
    | frozenset(chr(c) for c in range(0x80, 0x100))
)
_OBFUSCATED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# A path prefix: RFC 3986 pchar and "/", without "%" (no escapes to decode into "/" or
# ".."), and without "," (X-Forwarded-Prefix lists from several proxies are not merged).
_PREFIX_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+;=:@/"
)
_SCHEMES = {"http": "http", "https": "https"}
_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}

_UNCHANGED = object()  # the headers say nothing about the client: keep the peer
_WANTED = {
    b"forwarded": 0,
    b"x-forwarded-for": 1,
    b"x-forwarded-proto": 2,
    b"x-forwarded-host": 3,
    b"x-forwarded-prefix": 4,
}

Client = object  # (host, port), None (unknown) or _UNCHANGED
Hop = tuple[tuple[str, int], bool] | None  # (host, port), trusted; None: unreadable


class ProxyHeadersMiddleware:
    """Set the client address, scheme, host and root path from a trusted proxy's headers.

    - `trusted_proxies`: the proxies' addresses and networks (`"10.0.0.1"`,
      `"10.0.0.0/8"`, `"::1"`), as a list or a comma-separated string; `"unix"` trusts a
      peer without an address (a Unix socket); `"*"` trusts every peer and every hop:
      only for a server nothing but the proxy can reach, since anyone else could then
      claim any address. Default: loopback, a proxy on the same machine.
    - `headers`: which headers the proxy sets. `"x-forwarded"` (the default: nginx,
      Caddy, Traefik, HAProxy, cloud load balancers) reads `X-Forwarded-For` and
      `X-Forwarded-Proto`; `"forwarded"` reads RFC 7239's `Forwarded`; `"both"` reads
      `Forwarded` when a request has one and `X-Forwarded-*` otherwise, never mixing
      them. Read only the ones your proxy sets (or strips): one it passes through
      untouched is the client's to write.
    - `trust_host`: also take the host the client asked for (`X-Forwarded-Host`, or
      `host=` in `Forwarded`) into the `Host` header, so `request.url` shows it. Off by
      default: most proxies pass a client's `X-Forwarded-Host` on unless told to set it.
    - `trust_prefix`: also take `X-Forwarded-Prefix`, the path prefix the proxy removed,
      into `root_path` (and back in front of `path`), so generated URLs include it.

    The scheme becomes `http` or `https` (`ws`/`wss` for WebSocket); `scope["client"]`
    becomes `(address, port)`, with port 0 when the proxy gives none, or None when the
    proxy says it does not know (`unknown`, an obfuscated name or a malformed address).
    Lifespan scopes, and requests from peers that are not trusted, pass untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: str | Iterable[str] = ("127.0.0.1", "::1"),
        *,
        headers: Family = "x-forwarded",
        trust_host: bool = False,
        trust_prefix: bool = False,
    ) -> None:
        if headers not in ("x-forwarded", "forwarded", "both"):
            raise ValueError(
                f"headers must be 'x-forwarded', 'forwarded' or 'both', not {headers!r}"
            )
        for name, flag in (("trust_host", trust_host), ("trust_prefix", trust_prefix)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, not {flag!r}")
        self.app = app
        self.headers = headers
        self.trust_host = trust_host
        self.trust_prefix = trust_prefix
        self._trust_all = False
        self._trust_unix = False
        networks: list[IPNetwork] = []
        for entry in _entries(trusted_proxies):
            if entry == "*":
                self._trust_all = True
            elif entry == "unix":
                self._trust_unix = True
            else:
                networks.append(_network(entry))
        self._networks = tuple(networks)
        # PERF: a peer given as one of these strings is trusted without parsing it.
        # Guarded by tests/test_mw_proxy_headers.py::
        # test_the_exact_address_shortcut_and_the_caches_agree_with_parsing.
        self._exact = frozenset(
            str(network.network_address)
            for network in networks
            if network.prefixlen == network.max_prefixlen
        )
        self._peers: dict[str, bool] = {}
        self._x_forwarded_hops: dict[str, Hop] = {}
        self._forwarded_hops: dict[str, Hop] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind == "http" or kind == "websocket") and self._trusts_peer(scope.get("client")):
            self._apply(scope, kind)
        await self.app(scope, receive, send)

    # -- who is trusted ---------------------------------------------------------------

    def _trusts_peer(self, client: object) -> bool:
        if self._trust_all:
            return True
        if not client:
            return self._trust_unix
        host = client[0]  # type: ignore[index]
        if not host or not isinstance(host, str):
            return self._trust_unix
        if host in self._exact:
            return True
        known = self._peers.get(host)
        if known is None:
            address = _address(host) if len(host) <= _MAX_NODE else None
            known = address is not None and self._trusts(address)
            if len(self._peers) >= _MAX_CACHE:
                self._peers.clear()
            self._peers[host] = known
        return known

    def _hop(self, text: str, cache: dict[str, Hop], brackets: bool) -> Hop:
        """The address and port of one hop of a chain, and whether it is a trusted
        proxy; None if it cannot be read."""
        # PERF: the same few clients and proxies come back request after request.
        # Guarded by tests/test_mw_proxy_headers.py::test_the_hop_cache_agrees_with_parsing.
        try:
            return cache[text]
        except KeyError:
            pass
        node = _node(text, brackets)
        hop = None if node is None else ((str(node[0]), node[1]), self._trusts(node[0]))
        if len(cache) >= _MAX_CACHE:
            cache.clear()
        cache[text] = hop
        return hop

    def _trusts(self, address: IPAddress) -> bool:
        if self._trust_all:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(address in network for network in self._networks)

    # -- reading the headers ----------------------------------------------------------

    def _apply(self, scope: Scope, kind: str) -> None:
        found: list[list[bytes]] = [[], [], [], [], []]
        headers = scope.get("headers") or ()
        for name, value in headers:
            slot = _WANTED.get(name.lower())
            if slot is not None:
                found[slot].append(value)
        forwarded, x_for, x_proto, x_host, x_prefix = found
        if self.headers == "forwarded" or (self.headers == "both" and forwarded):
            client, proto, host = self._read_forwarded(forwarded)
        else:
            client, proto, host = self._read_x_forwarded(x_for, x_proto, x_host)
        if client is not _UNCHANGED:
            scope["client"] = client
        if proto is not None:
            scheme = (_WS_SCHEMES if kind == "websocket" else _SCHEMES).get(proto.lower())
            if scheme is not None:
                scope["scheme"] = scheme
        if self.trust_host and host is not None and len(host) <= _MAX_HOST and is_valid_host(host):
            _set_host(scope, headers, host.encode("ascii"))
        if self.trust_prefix and x_prefix:
            prefix = _prefix(x_prefix)
            if prefix:
                _add_prefix(scope, prefix)

    def _read_forwarded(self, values: list[bytes]) -> tuple[Client, str | None, str | None]:
        client: Client = _UNCHANGED
        chosen: dict[str, str] | None = None
        elements, _ = _items(values)
        for element in reversed(elements):
            chosen = _element(element)
            if chosen is None:  # malformed: nothing in it can be believed
                client = None
                break
            node = chosen.get("for")
            if node is None:  # this proxy does not say where the request came from
                break
            hop = self._hop(node, self._forwarded_hops, brackets=True)
            if hop is None:
                client = None
                break
            client, trusted = hop
            if not trusted:
                break
        if chosen is None:
            return client, None, None
        return client, chosen.get("proto"), chosen.get("host")

    def _read_x_forwarded(
        self, x_for: list[bytes], x_proto: list[bytes], x_host: list[bytes]
    ) -> tuple[Client, str | None, str | None]:
        client: Client = _UNCHANGED
        hops, complete = _items(x_for)
        position: int | None = None  # of the client's hop, counted from the right
        for hop in reversed(hops):
            position = 0 if position is None else position + 1
            parsed = self._hop(hop, self._x_forwarded_hops, brackets=False)
            if parsed is None:
                client = None
                break
            client, trusted = parsed
            if not trusted:
                break
        hop_count = len(hops) if complete else None
        return (
            client,
            _matching(x_proto, position, hop_count),
            _matching(x_host, position, hop_count),
        )


# -- configuration ----------------------------------------------------------------------


def _entries(trusted: str | Iterable[str]) -> list[str]:
    if isinstance(trusted, str):
        raw: list[object] = list(trusted.split(","))
    else:
        try:
            raw = list(trusted)
        except TypeError:
            raise TypeError(
                "trusted_proxies must be a list of addresses and networks, or a "
                f"comma-separated string, not {type(trusted).__name__}"
            ) from None
    entries = []
    for entry in raw:
        if not isinstance(entry, str):
            raise TypeError(
                f"trusted_proxies entries are strings such as '10.0.0.1' or "
                f"'10.0.0.0/8', not {type(entry).__name__} {entry!r}"
            )
        entry = entry.strip()
        if entry:
            entries.append(entry)
    if not entries:
        raise ValueError(
            "trusted_proxies is empty: list your proxies' addresses (or leave the "
            "middleware out if nothing is in front of the server)"
        )
    return entries


def _network(entry: str) -> IPNetwork:
    if "%" in entry:
        raise ValueError(
            f"trusted_proxies: {entry!r} has an IPv6 zone (%...), which peers' "
            "addresses do not carry: give the address without it"
        )
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"trusted_proxies: {entry!r} is not an IP address or network ({exc}); give "
            "addresses or networks such as '10.0.0.1', '10.0.0.0/8' or '::1', or "
            "'unix' or '*'"
        ) from None


# -- parsing ----------------------------------------------------------------------------


def _items(values: list[bytes]) -> tuple[list[str], bool]:
    """The last `MAX_HOPS` non-empty items of a comma-separated list (header lines
    joined in order), and whether that is all of it."""
    if not values:
        return [], True
    text = b",".join(values).decode("latin-1")
    pieces = text.rsplit(",", MAX_HOPS)
    complete = len(pieces) <= MAX_HOPS
    if not complete:
        del pieces[0]  # the unread rest of the list, left of the last MAX_HOPS items
    items = [piece.strip(" \t") for piece in pieces]
    return [item for item in items if item], complete


def _matching(values: list[bytes], position: int | None, hop_count: int | None) -> str | None:
    """The X-Forwarded-Proto or -Host value that goes with the client's hop: the only
    one, or, when each proxy appended one, the one at the client's position."""
    if not values:
        return None
    items, complete = _items(values)
    if complete and len(items) == 1:
        return items[0]
    if position is not None and complete and len(items) == hop_count:
        return items[-1 - position]
    return None  # several values that cannot be matched to the hops: trust none


def _address(text: str) -> IPAddress | None:
    if "%" in text:  # an IPv6 zone: nothing a proxy should pass on, and free text
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _port(text: str) -> int | None:
    if text.isdigit() and text.isascii() and len(text) <= 5:
        port = int(text)
        return port if port <= 65535 else None
    if len(text) > 1 and text[0] == "_" and all(char in _OBFUSCATED for char in text):
        return 0  # an obfuscated port (RFC 7239 6.3): the address still stands
    return None


def _node(text: str, brackets: bool) -> tuple[IPAddress, int] | None:
    """An address and port from `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80` or (in
    X-Forwarded-For, where `brackets` is False) `::1`; None for anything else."""
    if len(text) > _MAX_NODE:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        address = _address(text[1:end])
        if not isinstance(address, ipaddress.IPv6Address):
            return None
        rest = text[end + 1 :]
        if not rest:
            return _unmapped(address), 0
        port = _port(rest[1:]) if rest[0] == ":" else None
        return None if port is None else (_unmapped(address), port)
    colons = text.count(":")
    if colons == 1:  # IPv4 with a port
        host, _, port_text = text.partition(":")
        address = _address(host)
        port = _port(port_text)
        if not isinstance(address, ipaddress.IPv4Address) or port is None:
            return None
        return address, port
    if colons and brackets:  # RFC 7239 6: an IPv6 address is always in brackets
        return None
    address = _address(text)
    return None if address is None else (_unmapped(address), 0)


def _element(text: str) -> dict[str, str] | None:
    """The parameters of one Forwarded element (`for=...;proto=...`), names lowered;
    None if it is malformed or names a parameter twice (RFC 7239 4)."""
    length = len(text)
    if length > _MAX_ELEMENT:
        return None
    params: dict[str, str] = {}
    i = 0
    while i < length:
        char = text[i]
        if char in " \t;":  # whitespace, and empty pairs (`a=b;;c=d`)
            i += 1
            continue
        start = i
        while i < length and text[i] in _TCHAR:
            i += 1
        if i == start or i >= length or text[i] != "=":
            return None
        name = text[start:i].lower()
        i += 1
        if i < length and text[i] == '"':
            i += 1
            chars = []
            while True:
                if i >= length:
                    return None  # the quoted string never ends
                char = text[i]
                if char == '"':
                    i += 1
                    break
                if char == "\\":
                    i += 1
                    if i >= length:
                        return None
                    char = text[i]
                if char not in _QUOTED:
                    return None
                chars.append(char)
                i += 1
            value = "".join(chars)
        else:
            start = i
            while i < length and text[i] in _BARE_VALUE:
                i += 1
            if i == start:
                return None
            value = text[start:i]
        if name in params:
            return None
        params[name] = value
        while i < length and text[i] in " \t":
            i += 1
        if i < length and text[i] != ";":
            return None
    return params


def _prefix(values: list[bytes]) -> str | None:
    """The path prefix in X-Forwarded-Prefix, without its trailing slash; None if
    there is none or it is not a plain absolute path."""
    if len(values) != 1:
        return None  # several lines: which proxy's is it?
    text = values[0].decode("latin-1").strip(" \t")
    if (
        not text.startswith("/")
        or text.startswith("//")
        or len(text) > _MAX_PREFIX
        or not all(char in _PREFIX_CHARS for char in text)
    ):
        return None
    text = text.rstrip("/")
    if any(segment in ("", ".", "..") for segment in text.split("/")[1:]):
        return None
    return text


# -- changing the scope -----------------------------------------------------------------


def _set_host(scope: Scope, headers: Iterable[tuple[bytes, bytes]], host: bytes) -> None:
    """Give the request `host` as its Host header, in a new headers list."""
    replaced: list[tuple[bytes, bytes]] = []
    seen = 0
    for name, value in headers:
        if name.lower() == b"host":
            seen += 1
            replaced.append((b"host", host))
        else:
            replaced.append((name, value))
    if seen > 1:
        return  # an ambiguous request: left as it is, for the app to refuse (400)
    if not seen:
        replaced.append((b"host", host))
    scope["headers"] = replaced


def _add_prefix(scope: Scope, prefix: str) -> None:
    """Put the prefix the proxy removed in front of `root_path`, `path` and `raw_path`."""
    path = full_path(scope)  # the path with the server's own root_path in it
    scope["root_path"] = prefix + scope.get("root_path", "")
    scope["path"] = prefix + path
    raw_path = scope.get("raw_path")
    if raw_path is not None:
        scope["raw_path"] = prefix.encode("ascii") + raw_path
