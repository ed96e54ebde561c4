"""Table-driven tests of the header rules, run on both implementations ([c] and [py])."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest

BROWSER = [
    (b"Host", b"example.com"),
    (b"User-Agent", b"Mozilla/5.0"),
    (b"accept", b"text/html"),
    (b"X-Dup", b"one"),
    (b"x-dup", b"two"),
    (b"X-DUP", b"three"),
    (b"cookie", b"a=1"),
    (b"Cookie", b"b=2"),
    (b"x-latin", b"caf\xe9"),
    (b"x-empty", b""),
]


@pytest.fixture
def headers(headers_module: ModuleType) -> Any:
    return headers_module.Headers(BROWSER)


# The view over request headers.


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("host", "example.com"),
        ("HOST", "example.com"),
        ("hOsT", "example.com"),
        ("user-agent", "Mozilla/5.0"),
        ("USER-AGENT", "Mozilla/5.0"),
        ("x-dup", "one"),
        ("x-latin", "caf\u00e9"),
        ("x-empty", ""),
    ],
)
def test_lookup_ignores_case_and_gives_the_first_value(headers: Any, name: str, value: str) -> None:
    assert headers.get(name) == value
    assert headers[name] == value
    assert name in headers


@pytest.mark.parametrize("name", ["missing", "", "hos", "hostt", "x-dup ", "\u2603", "h\u00f6st"])
def test_missing_names(headers: Any, name: str) -> None:
    assert headers.get(name) is None
    assert headers.get(name, "fallback") == "fallback"
    assert headers.getlist(name) == []
    assert name not in headers
    with pytest.raises(KeyError) as info:
        headers[name]
    assert info.value.args == (name,)


def test_only_ascii_letters_fold(headers_module: ModuleType) -> None:
    # RFC 9110 names are case-insensitive in ASCII only: no Unicode folding, in either way.
    headers = headers_module.Headers([(b"\xc9t\xc9", b"1"), (b"k", b"2")])
    assert headers.get("\u00c9T\u00c9") == "1"
    assert headers.get("\u00e9t\u00e9") is None
    assert headers.get("\u212a") is None  # KELVIN SIGN lowers to "k" in Unicode
    assert headers.keys() == ["\u00c9t\u00c9", "k"]


def test_getlist_keeps_every_value_in_order(headers: Any) -> None:
    assert headers.getlist("x-dup") == ["one", "two", "three"]
    assert headers.getlist("Cookie") == ["a=1", "b=2"]
    assert headers.getlist("host") == ["example.com"]


def test_items_keep_repeats_and_lower_the_names(headers: Any) -> None:
    assert headers.items() == [
        ("host", "example.com"),
        ("user-agent", "Mozilla/5.0"),
        ("accept", "text/html"),
        ("x-dup", "one"),
        ("x-dup", "two"),
        ("x-dup", "three"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
        ("x-latin", "caf\u00e9"),
        ("x-empty", ""),
    ]


def test_distinct_names_in_order_of_first_appearance(headers: Any) -> None:
    names = ["host", "user-agent", "accept", "x-dup", "cookie", "x-latin", "x-empty"]
    assert list(headers) == names
    assert headers.keys() == names
    assert len(headers) == 7
    firsts = ["example.com", "Mozilla/5.0", "text/html", "one", "a=1", "caf\u00e9", ""]
    assert headers.values() == firsts
    assert dict(headers) == dict(zip(names, headers.values()))


@pytest.mark.parametrize("raw", [(), []])
def test_empty(headers_module: ModuleType, raw: Any) -> None:
    headers = headers_module.Headers(raw)
    assert headers.get("host") is None
    assert headers.getlist("host") == []
    assert "host" not in headers
    assert (len(headers), list(headers), headers.items(), headers.values()) == (0, [], [], [])
    assert headers == headers_module.Headers()
    assert repr(headers) == "Headers([])"


def test_raw_is_kept_as_given_and_read_only(headers_module: ModuleType) -> None:
    raw = [(b"a", b"1")]
    headers = headers_module.Headers(raw)
    assert headers.raw is raw
    with pytest.raises(AttributeError):
        headers.raw = []
    # No cache: the view follows the list it was given.
    raw.append((b"B", b"2"))
    assert headers.get("b") == "2"


def test_lists_as_pairs_and_tuples_as_the_raw_list(headers_module: ModuleType) -> None:
    headers = headers_module.Headers(((b"A", b"1"), [b"b", b"2"]))
    assert headers.items() == [("a", "1"), ("b", "2")]
    assert headers.get("B") == "2"


def test_contains_is_false_for_anything_but_str(headers: Any) -> None:
    for key in (b"host", None, 1, ("host",)):
        assert key not in headers


@pytest.mark.parametrize("key", [b"host", None, 1])
def test_lookups_by_non_str_raise_type_error(headers: Any, key: Any) -> None:
    for lookup in (headers.get, headers.__getitem__, headers.getlist):
        with pytest.raises(TypeError):
            lookup(key)


def test_equality(headers_module: ModuleType) -> None:
    from bare import _headers_py

    Headers = headers_module.Headers
    raw = [(b"A", b"1"), (b"b", b"2")]
    assert Headers(raw) == Headers([(b"a", b"1"), (b"B", b"2")])
    assert Headers(raw) == _headers_py.Headers(raw)
    assert _headers_py.Headers(raw) == Headers(raw)
    assert Headers(raw) != Headers(raw[::-1])  # order matters
    assert Headers(raw) != Headers([*raw, (b"a", b"1")])  # so do repeats
    assert Headers(raw) != {"a": "1", "b": "2"}  # not a plain mapping
    assert Headers(raw) != raw


@pytest.mark.c_extension
def test_equality_across_implementations() -> None:
    from bare import _headers, _headers_py

    raw = [(b"A", b"1"), (b"b", b"2")]
    assert _headers.Headers(raw) == _headers_py.Headers(raw)
    assert _headers_py.Headers(raw) == _headers.Headers(raw)
    assert _headers.Headers(raw) != _headers_py.Headers(raw[:1])


def test_mapping_protocol(headers: Any) -> None:
    assert isinstance(headers, Mapping)
    with pytest.raises(TypeError):
        hash(headers)
    with pytest.raises(TypeError):
        reversed(headers)


def test_repr_pickle_and_copy(headers_module: ModuleType, headers: Any) -> None:
    assert repr(headers_module.Headers([(b"A", b"caf\xe9")])) == "Headers([('a', 'café')])"
    assert pickle.loads(pickle.dumps(headers)) == headers
    assert copy.copy(headers) == headers
    assert copy.deepcopy(headers) == headers


NOT_BYTES = "raw header names and values must be bytes, not "
NOT_A_PAIR = "a header must be a (name, value) pair, not "


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (None, TypeError, "'NoneType' object is not iterable"),
        (1, TypeError, "'int' object is not iterable"),
        ([1], TypeError, NOT_A_PAIR + "int"),
        ([None], TypeError, NOT_A_PAIR + "NoneType"),
        (["abc"], TypeError, NOT_A_PAIR + "str"),
        ([iter((b"host",))], TypeError, NOT_A_PAIR + "tuple_iterator"),
        ([(b"host",)], ValueError, NOT_A_PAIR + "a tuple of 1"),
        ([(b"host", b"x", b"y")], ValueError, NOT_A_PAIR + "a tuple of 3"),
        ([()], ValueError, NOT_A_PAIR + "a tuple of 0"),
        ([[b"host"]], ValueError, NOT_A_PAIR + "a list of 1"),
        ([("host", "x")], TypeError, NOT_BYTES + "str"),
        ([(b"host", "x")], TypeError, NOT_BYTES + "str"),
        ([(bytearray(b"host"), b"x")], TypeError, NOT_BYTES + "bytearray"),
        ([(b"host", bytearray(b"x"))], TypeError, NOT_BYTES + "bytearray"),
        ([(memoryview(b"host"), b"x")], TypeError, NOT_BYTES + "memoryview"),
        ([(b"host", memoryview(b"x"))], TypeError, NOT_BYTES + "memoryview"),
        ([b"ab"], TypeError, NOT_BYTES + "int"),  # bytes unpack into two ints
        ([(b"a", b"1"), (b"host",)], ValueError, NOT_A_PAIR + "a tuple of 1"),  # not the first
    ],
)
def test_malformed_raw_lists_raise_when_read(
    headers_module: ModuleType, raw: Any, error: type[Exception], message: str
) -> None:
    headers = headers_module.Headers(raw)  # construction reads nothing
    reads = [
        lambda: headers.get("host"),
        lambda: headers.getlist("host"),
        lambda: headers["host"],
        lambda: "host" in headers,
        headers.items,
        headers.keys,
        headers.values,
        lambda: len(headers),
        lambda: list(headers),
        lambda: repr(headers),
    ]
    for read in reads:
        with pytest.raises(error) as info:
            read()
        assert type(info.value) is error and str(info.value) == message


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (None, TypeError, "'NoneType' object is not iterable"),
        ([1], TypeError, NOT_A_PAIR + "int"),
        ([(b"host",)], ValueError, NOT_A_PAIR + "a tuple of 1"),
        ([(b"host", b"x", b"y")], ValueError, NOT_A_PAIR + "a tuple of 3"),
        ([("host", b"x")], TypeError, NOT_BYTES + "str"),
        ([(bytearray(b"Content-Length"), b"x")], TypeError, NOT_BYTES + "bytearray"),
        # Bytes-likes that compare equal to the names looked for are refused too.
        ([(bytearray(b"content-length"), b"x")], TypeError, NOT_BYTES + "bytearray"),
        ([(memoryview(b"transfer-encoding"), b"x")], TypeError, NOT_BYTES + "memoryview"),
        ([(memoryview(b"host"), b"x")], TypeError, NOT_BYTES + "memoryview"),
        ([(b"x", b"1"), ("transfer-encoding", b"x")], TypeError, NOT_BYTES + "str"),
        ([(None, b"x")], TypeError, NOT_BYTES + "NoneType"),  # no length at all
        ([(1, b"x")], TypeError, NOT_BYTES + "int"),
    ],
)
def test_framing_problem_on_malformed_raw_lists(
    headers_module: ModuleType, raw: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        headers_module.framing_problem(raw)
    assert type(info.value) is error and str(info.value) == message


def test_framing_problem_looks_only_at_the_names_it_compares(headers_module: ModuleType) -> None:
    # Values are never read, and only names of the length of host, content-length or
    # transfer-encoding are compared (so they must be bytes: a bytearray compares equal).
    assert headers_module.framing_problem([(b"host", "a str value"), (b"x", None)]) is None
    odd_names = [("abc", b"x"), (bytearray(b"x-y"), b"1"), (memoryview(b"accept"), b"2")]
    assert headers_module.framing_problem(odd_names) is None
    assert headers_module.framing_problem([*odd_names, (b"Host", b"a"), (b"HOST", b"b")]) == (
        "Request has more than one Host header"
    )


@pytest.mark.parametrize("key", [b"host", None, 1])
def test_lookups_by_non_str_name_the_type(headers: Any, key: Any) -> None:
    message = f"header name must be str, not {type(key).__name__}"
    for lookup in (headers.get, headers.__getitem__, headers.getlist):
        with pytest.raises(TypeError) as info:
            lookup(key)
        assert str(info.value) == message


@pytest.mark.parametrize(
    ("pairs", "error", "message"),
    [
        ([("x",)], ValueError, NOT_A_PAIR + "a tuple of 1"),
        ([("x", "1", "2")], ValueError, NOT_A_PAIR + "a tuple of 3"),
        ([None], TypeError, NOT_A_PAIR + "NoneType"),
        (["abc"], TypeError, NOT_A_PAIR + "str"),
    ],
)
def test_encode_headers_on_malformed_pairs(
    headers_module: ModuleType, pairs: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        headers_module.encode_headers(pairs)
    assert type(info.value) is error and str(info.value) == message


class ClearsTheList:
    """A pair whose unpacking empties the raw list it sits in (and drops itself)."""

    def __init__(self, raw: list[Any]) -> None:
        self.raw = raw

    def __iter__(self) -> Any:
        self.raw.clear()
        return iter((b"host", b"x"))


def test_a_list_changed_while_being_read(headers_module: ModuleType) -> None:
    raw: list[Any] = []
    raw += [ClearsTheList(raw), (b"a", b"1")]
    assert headers_module.Headers(raw).get("a") is None
    raw += [ClearsTheList(raw), (b"a", b"1")]
    assert headers_module.Headers(raw).items() == [("host", "x")]


def test_lookups_stop_at_the_first_match(headers_module: ModuleType) -> None:
    headers = headers_module.Headers([(b"host", b"x"), ("broken", None)])
    assert headers.get("host") == "x"
    assert "host" in headers
    with pytest.raises(TypeError):
        headers.getlist("host")


# Cookie header parsing.


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ("  a = 1 ;\tb\t=\t2\t", {"a": "1", "b": "2"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ('a=" spaced "', {"a": " spaced "}),
        ('a=""', {"a": ""}),
        ('a="', {"a": '"'}),
        ('a="unbalanced', {"a": '"unbalanced'}),
        ('a=x"y"', {"a": 'x"y"'}),
        ('a=""x""', {"a": '"x"'}),  # one pair of quotes comes off, no more
        ('a="\\"esc\\""', {"a": '\\"esc\\"'}),  # no backslash unescaping
        ('a="\\012"', {"a": "\\012"}),  # no octal unescaping
        ("a=%20x", {"a": "%20x"}),  # no percent-decoding
        ("a=1=2", {"a": "1=2"}),
        ("a=", {"a": ""}),
        ("a=1; a=2", {"a": "1"}),  # the first (most specific) wins
        ("a=1; A=2", {"a": "1", "A": "2"}),  # names are case-sensitive
        ("=1", {}),  # empty name dropped (Werkzeug CVE-2023-23934)
        (" =1; =2;a=3", {"a": "3"}),
        ("flag", {}),  # no "=": ignored
        ("flag; a=1", {"a": "1"}),
        (";;=;a", {}),
        (";;;", {}),
        ("a=1,b=2", {"a": "1,b=2"}),  # only ";" separates
        ("a b=1", {"a b": "1"}),
        (
            "caf\u00e9=cr\u00e8me; \u2603=\U0001f600",
            {"caf\u00e9": "cr\u00e8me", "\u2603": "\U0001f600"},
        ),
        ("a=\ud800; \udfff=1", {"a": "\ud800", "\udfff": "1"}),  # lone surrogates
        ("a=\x00; \x00=b", {"a": "\x00", "\x00": "b"}),
        ("a=\r\n1", {"a": "\r\n1"}),  # only spaces and tabs are stripped
    ],
)
def test_parse_cookie(headers_module: ModuleType, header: str, cookies: dict[str, str]) -> None:
    assert headers_module.parse_cookie(header) == cookies


def test_parse_cookie_keeps_the_first_max_count_names(headers_module: ModuleType) -> None:
    header = "; ".join(f"c{i}={i}" for i in range(300))
    parsed = headers_module.parse_cookie(header)
    assert len(parsed) == 200
    assert list(parsed) == [f"c{i}" for i in range(200)]
    assert headers_module.parse_cookie(header, 3) == {"c0": "0", "c1": "1", "c2": "2"}
    # Repeats and rejected pieces do not count.
    assert headers_module.parse_cookie("a=1; a=2; =3; x; b=4", 2) == {"a": "1", "b": "4"}
    assert headers_module.parse_cookie(header, 10**30) == {f"c{i}": str(i) for i in range(300)}
    for limit in (0, -1):
        assert headers_module.parse_cookie(header, limit) == {}


@pytest.mark.parametrize(
    ("header", "limit"), [(None, 200), (b"a=1", 200), ("a=1", 2.0), ("a=1", "2")]
)
def test_parse_cookie_refuses_other_types(
    headers_module: ModuleType, header: Any, limit: Any
) -> None:
    with pytest.raises(TypeError):
        headers_module.parse_cookie(header, limit)


# Hostile Cookie headers: each must finish, so the parser is not quadratic.

KB100 = 100 * 1024


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("a=1;" * (KB100 // 4), {"a": "1"}),
        (";" * KB100, {}),
        ('"' * KB100, {}),
        ("a=" + '"' * KB100, {"a": '"' * (KB100 - 2)}),
        ("=" * KB100, {}),
        (" " * KB100 + "a=1", {"a": "1"}),
        ("a=" + " " * KB100 + "1", {"a": "1"}),
        ("a" * KB100, {}),
        ("=;" * (KB100 // 2), {}),
        ("a=\ud800;" * (KB100 // 4), {"a": "\ud800"}),
    ],
    ids=[
        *("repeats", "semicolons", "quotes", "quoted", "equals", "spaces", "inner-spaces"),
        *("name", "empty-names", "surrogates"),
    ],
)
def test_parse_cookie_on_100kb(
    headers_module: ModuleType, header: str, cookies: dict[str, str]
) -> None:
    assert headers_module.parse_cookie(header) == cookies


def test_parse_cookie_on_100kb_of_distinct_names(headers_module: ModuleType) -> None:
    header = ";".join(f"n{i}=v" for i in range(KB100 // 8))
    assert len(headers_module.parse_cookie(header)) == 200
    assert len(headers_module.parse_cookie(header, 10**9)) == KB100 // 8


def test_headers_on_100kb(headers_module: ModuleType) -> None:
    many = [(b"X-N%d" % i, b"v") for i in range(KB100 // 8)] + [(b"Cookie", b"c" * KB100)]
    headers = headers_module.Headers(many)
    assert headers.get("cookie") == "c" * KB100
    assert headers.get("missing") is None
    assert headers.getlist("x-n7") == ["v"]
    assert len(headers) == KB100 // 8 + 1
    long_name = headers_module.Headers([(b"a" * KB100, b"1")])
    assert long_name.get("A" * KB100) == "1"
    assert long_name.get("A" * (KB100 - 1) + "b") is None


def test_encode_header_on_100kb(headers_module: ModuleType) -> None:
    value = "v" * KB100
    assert headers_module.encode_header("X-" + "a" * KB100, value)[1] == value.encode()
    for bad in (value + "\r", "\u2603" * KB100, "\x00" * KB100):
        with pytest.raises(ValueError):
            headers_module.encode_header("x", bad)
    with pytest.raises(ValueError):
        headers_module.encode_header("a" * KB100 + " ", "v")


# Response headers.


@pytest.mark.parametrize(
    ("name", "value", "encoded"),
    [
        (
            "Content-Type",
            "text/html; charset=utf-8",
            (b"content-type", b"text/html; charset=utf-8"),
        ),
        ("X-Custom_Name", "", (b"x-custom_name", b"")),
        ("!#$%&'*+-.^_`|~09azAZ", "v", (b"!#$%&'*+-.^_`|~09azaz", b"v")),
        ("x", "a\tb", (b"x", b"a\tb")),  # HTAB is allowed
        ("x", "caf\u00e9", (b"x", b"caf\xe9")),  # obs-text, latin-1
        ("x", "\x80\x9f\xa0\xad\xff", (b"x", b"\x80\x9f\xa0\xad\xff")),
        ("x", "a \x20~", (b"x", b"a  ~")),  # inner spaces are fine
        ("x", "a\t\tb", (b"x", b"a\t\tb")),
        ("x", "\xa0nbsp\xa0", (b"x", b"\xa0nbsp\xa0")),  # NBSP is not whitespace here
    ],
)
def test_encode_header_accepts(
    headers_module: ModuleType, name: str, value: str, encoded: tuple[bytes, bytes]
) -> None:
    assert headers_module.encode_header(name, value) == encoded


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\rb", "control character (U+000D at index 1)"),
        ("a\nb", "control character (U+000A at index 1)"),
        ("http://x/\r\nSet-Cookie: a=1", "control character (U+000D at index 9)"),
        ("\0", "control character (U+0000 at index 0)"),
        ("\x7f", "control character (U+007F at index 0)"),
        ("\x01", "control character (U+0001 at index 0)"),
        ("ok\x08", "control character (U+0008 at index 2)"),
        ("\x1f", "control character (U+001F at index 0)"),
        ("\u2603", "not latin-1 (U+2603 at index 0)"),
        ("caf\u00e9 \u2603\r", "not latin-1 (U+2603 at index 5)"),
        ("x\r\u2603", "control character (U+000D at index 1)"),
        ("\ud800", "not latin-1 (U+D800 at index 0)"),
        ("\U0001f600", "not latin-1 (U+1F600 at index 0)"),
    ],
)
def test_encode_header_refuses_values(headers_module: ModuleType, value: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid header value for 'location'") as info:
        headers_module.encode_header("location", value)
    assert str(info.value).endswith(message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (" x", "starts with whitespace (U+0020 at index 0)"),
        ("\tx", "starts with whitespace (U+0009 at index 0)"),
        ("x ", "ends with whitespace (U+0020 at index 1)"),
        ("x\t", "ends with whitespace (U+0009 at index 1)"),
        (" ", "starts with whitespace (U+0020 at index 0)"),
        ("\t\t", "starts with whitespace (U+0009 at index 0)"),
        ("caf\u00e9 ", "ends with whitespace (U+0020 at index 4)"),
        ("\u2603 \u2603 ", "not latin-1 (U+2603 at index 0)"),  # wide strs too
        (" \u2603", "starts with whitespace (U+0020 at index 0)"),
        ("\u2603\t", "not latin-1 (U+2603 at index 0)"),
        ("\U0001f600 ", "not latin-1 (U+1F600 at index 0)"),
        # The order: leading whitespace, then the first bad character, then trailing.
        (" \r", "starts with whitespace (U+0020 at index 0)"),
        ("a\r ", "control character (U+000D at index 1)"),
        ("a \x00 ", "control character (U+0000 at index 2)"),
    ],
)
def test_encode_header_refuses_whitespace_at_either_end(
    headers_module: ModuleType, value: str, message: str
) -> None:
    # RFC 9110 5.5: a field value excludes leading and trailing whitespace.
    with pytest.raises(ValueError, match=r"^invalid header value for 'x-a': ") as info:
        headers_module.encode_header("x-a", value)
    assert str(info.value).endswith(message)
    with pytest.raises(ValueError):
        headers_module.encode_headers([("x-a", value)])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "invalid header name '': it must be a non-empty token"),
        ("bad name", "invalid header name 'bad name': U+0020 at index 3"),
        ("x:y", "invalid header name 'x:y': U+003A at index 1"),
        ("\u00fc", "invalid header name '\u00fc': U+00FC at index 0"),
        ("a\r\nb", "invalid header name 'a\\r\\nb': U+000D at index 1"),
        ("\u2603", "invalid header name '\u2603': U+2603 at index 0"),
        ('"x"', "invalid header name '\"x\"': U+0022 at index 0"),
        ("x(", "invalid header name 'x(': U+0028 at index 1"),
        ("x\t", "invalid header name 'x\\t': U+0009 at index 1"),
    ],
)
def test_encode_header_refuses_names(headers_module: ModuleType, name: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        headers_module.encode_header(name, "value")
    assert str(info.value).startswith(message)


def test_error_messages_stay_short(headers_module: ModuleType) -> None:
    secret = "s3cr3t" * 20_000
    with pytest.raises(ValueError) as info:
        headers_module.encode_header("x" * 10_000, secret + "\r\n")
    assert "s3cr3t" not in str(info.value)
    assert len(str(info.value)) < 200
    with pytest.raises(ValueError) as info:
        headers_module.encode_header("x y" * 10_000, "v")
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (b"x", "v", "header name must be str, not bytes"),
        (None, "v", "header name must be str, not NoneType"),
        ("x", b"v", "header value for 'x' must be str, not bytes"),
        ("x", 1, "header value for 'x' must be str, not int"),
    ],
)
def test_encode_header_refuses_other_types(
    headers_module: ModuleType, name: Any, value: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=f"^{message}$"):
        headers_module.encode_header(name, value)


def test_encode_headers(headers_module: ModuleType) -> None:
    pairs = [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    expected = [(b"content-type", b"text/plain"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
    assert headers_module.encode_headers(pairs) == expected
    assert headers_module.encode_headers(tuple(pairs)) == expected
    assert headers_module.encode_headers(iter(pairs)) == expected
    assert headers_module.encode_headers([]) == []
    # A mapping gives its items, not its (two-character) keys.
    assert headers_module.encode_headers({"ab": "v"}) == [(b"ab", b"v")]
    with pytest.raises(ValueError, match="'bad name'"):
        headers_module.encode_headers([("ok", "1"), ("bad name", "2")])
    with pytest.raises(ValueError, match="control character"):
        headers_module.encode_headers([("ok", "1\r\n")])
    with pytest.raises(ValueError):
        headers_module.encode_headers([("x",)])
    with pytest.raises(TypeError):
        headers_module.encode_headers([None])
    with pytest.raises(TypeError):
        headers_module.encode_headers(None)


class Text(str):
    pass


def test_str_subclasses_are_str(headers_module: ModuleType) -> None:
    assert headers_module.Headers([(b"A", b"1")]).get(Text("a")) == "1"
    assert headers_module.parse_cookie(Text("a=1")) == {"a": "1"}
    assert headers_module.encode_header(Text("A"), Text("v")) == (b"a", b"v")
    with pytest.raises(ValueError, match="invalid header name 'a b'"):
        headers_module.encode_header(Text("a b"), "v")
    with pytest.raises(ValueError, match="U\\+000D at index 0"):
        headers_module.encode_header("a", Text("\r"))


def test_check_header_is_encode_header_without_the_result() -> None:
    from bare.headers import check_header

    assert check_header("X-Ok", "fine\tvalue") is None
    with pytest.raises(ValueError, match="control character"):
        check_header("X-Bad", "a\x01")
    with pytest.raises(ValueError, match="token"):
        check_header("X Bad", "v")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([(b"host", b"a"), (b"content-length", b"3")], None),
        ([(b"host", b"a"), (b"transfer-encoding", b"chunked")], None),
        ([], None),
        (
            [(b"content-length", b"3"), (b"transfer-encoding", b"chunked")],
            "both Content-Length and Transfer-Encoding",
        ),
        (
            [(b"Transfer-Encoding", b"chunked"), (b"CONTENT-LENGTH", b"3")],
            "both Content-Length and Transfer-Encoding",
        ),
        (
            [(b"content-length", b"3"), (b"Content-Length", b"3")],
            "more than one Content-Length header",
        ),
        ([(b"host", b"a"), (b"HoSt", b"b")], "more than one Host header"),
        ([(b"hosts", b"a"), (b"host", b"b"), (b"x-host", b"c")], None),
    ],
)
def test_framing_problem(
    headers_module: Any, raw: list[tuple[bytes, bytes]], problem: str | None
) -> None:
    found = headers_module.framing_problem(raw)
    if problem is None:
        assert found is None
    else:
        assert found == f"Request has {problem}"


def test_framing_problem_on_100k_headers(headers_module: Any) -> None:
    raw = [(b"x-filler", b"v")] * 100_000 + [(b"host", b"a"), (b"host", b"b")]
    assert headers_module.framing_problem(raw) == "Request has more than one Host header"
