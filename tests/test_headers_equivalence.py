"""Differential test: on random raw header lists, lookup names, Cookie headers and
response headers, the compiled header codecs and the pure ones give the same answers,
or raise the same exception type with the same message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bare import _headers, _headers_py

pytestmark = pytest.mark.c_extension

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COMMON = [b"host", b"cookie", b"accept", b"x-a", b"a", b"", b"\xc9t\xe9", b"k"]
# Any code point, lone surrogates included.
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


class Text(str):
    """A str subclass: both twins must take it as a str."""


def outcome(call: Callable[..., Any], *args: Any, message: bool = False) -> Any:
    try:
        return ("ok", call(*args))
    except Exception as exc:
        return ("raised", type(exc), str(exc) if message else None)


@st.composite
def mixed_case(draw: Any, name: bytes) -> bytes:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return bytes(
        c ^ 0x20 if flip and chr(c).isalpha() and c < 128 else c for c, flip in zip(name, flips)
    )


raw_names = st.one_of(
    st.sampled_from(COMMON).flatmap(mixed_case),
    st.binary(max_size=6),
)
raw_lists = st.lists(st.tuples(raw_names, st.binary(max_size=8)), max_size=10)


@st.composite
def lookup_names(draw: Any, raw: list[tuple[bytes, bytes]]) -> str:
    if raw and draw(st.booleans()):
        # A name that is there, in some case.
        name = draw(mixed_case(draw(st.sampled_from(raw))[0]))
        return name.decode("latin-1")
    return draw(
        st.one_of(
            st.sampled_from(["host", "HOST", "Cookie", "", "\u212a", "\u00c9T\u00c9", "\ud800"]),
            st.text(ANY_CHAR, max_size=4),
            st.text(ANY_CHAR, max_size=4).map(Text),
        )
    )


def views(raw: Any) -> list[Any]:
    return [_headers.Headers(raw), _headers_py.Headers(raw)]


@SETTINGS
@given(raw=raw_lists, data=st.data())
def test_headers_agree(raw: list[tuple[bytes, bytes]], data: Any) -> None:
    compiled, pure = views(raw)
    for method in ("items", "keys", "values", "__len__", "__iter__", "__repr__"):
        c, p = getattr(compiled, method)(), getattr(pure, method)()
        assert (list(c) if method == "__iter__" else c) == (list(p) if method == "__iter__" else p)
    assert compiled == pure
    assert pure == compiled
    for name in data.draw(st.lists(lookup_names(raw), min_size=1, max_size=5)):
        for lookup in ("get", "getlist", "__getitem__", "__contains__"):
            compiled_answer = outcome(getattr(compiled, lookup), name, message=True)
            assert compiled_answer == outcome(getattr(pure, lookup), name, message=True), (
                lookup,
                name,
            )


# Names and values of the wrong type: the bytes-likes (some equal to a name that
# framing_problem looks for) and str.
looked_for = st.sampled_from([b"host", b"content-length", b"transfer-encoding", b"HOST"])
not_bytes = st.one_of(
    st.binary(max_size=3).map(bytearray),
    st.binary(max_size=3).map(memoryview),
    looked_for.map(bytearray),
    looked_for.map(memoryview),
    looked_for.map(lambda name: name.decode()),
    st.text(max_size=3),
    st.sampled_from([None, 1]),
)
bad_items = st.one_of(
    st.tuples(raw_names, st.binary(max_size=3)),  # a good pair among the bad ones
    st.lists(raw_names, min_size=0, max_size=4).map(tuple),  # 0, 1, 3 or 4 items
    st.lists(raw_names, min_size=0, max_size=4),
    st.tuples(not_bytes, st.binary(max_size=3)),
    st.tuples(raw_names, not_bytes),
    st.tuples(not_bytes, not_bytes),
    st.tuples(raw_names, st.binary(max_size=3)).map(list),
    st.tuples(raw_names, st.binary(max_size=3)).map(iter),  # unpacks, but not a sequence
    st.sampled_from([None, 1, b"ab", "ab", "abc", b"", (bytearray(b"a"), b"b"), object()]),
)
lookups = st.one_of(
    st.sampled_from(["host", "HOST", "a", "", "\u2603"]),
    st.sampled_from([b"host", None, 1, bytearray(b"a")]),
)


@SETTINGS
@given(
    raw=st.one_of(
        st.lists(bad_items, max_size=6),
        st.lists(bad_items, max_size=6).map(tuple),
        st.sampled_from([None, 1, object()]),  # not iterable at all
    ),
    name=lookups,
)
def test_headers_agree_on_malformed_raw_lists(raw: Any, name: Any) -> None:
    # NOTE: a read consumes the iterators in `raw`: each read gets fresh ones.
    if isinstance(raw, (list, tuple)):
        kept = [(is_iterator(item), list(item) if is_iterator(item) else item) for item in raw]

    def fresh() -> Any:
        if isinstance(raw, (list, tuple)):
            return type(raw)(iter(item) if again else item for again, item in kept)
        return raw

    def compare(read: str, *args: Any) -> None:
        c = outcome(getattr(_headers.Headers(fresh()), read), *args, message=True)
        p = outcome(getattr(_headers_py.Headers(fresh()), read), *args, message=True)
        assert c == p, (read, args)

    for read in ("get", "getlist", "__contains__", "__getitem__"):
        compare(read, name)
    for read in ("items", "keys", "values", "__len__", "__repr__"):
        compare(read)
    c = outcome(_headers.framing_problem, fresh(), message=True)
    assert c == outcome(_headers_py.framing_problem, fresh(), message=True)


def is_iterator(item: Any) -> bool:
    return hasattr(item, "__next__")


blanks = st.text(st.sampled_from(" \t"), max_size=2)
cookie_words = st.text(st.one_of(st.sampled_from(list("a1\"'=\\, \t\x00\r")), ANY_CHAR), max_size=5)
cookie_text = st.one_of(
    st.text(st.one_of(st.sampled_from(list(';="\t \\,a1\x00\r\n')), ANY_CHAR), max_size=40),
    st.lists(
        st.builds(
            lambda b1, name, b2, eq, b3, quote, value, b4: (
                f"{b1}{name}{b2}{eq}{b3}{quote}{value}{quote}{b4}"
            ),
            blanks,
            cookie_words,
            blanks,
            st.sampled_from(["=", "", "=="]),
            blanks,
            st.sampled_from(["", '"']),
            cookie_words,
            blanks,
        ),
        max_size=6,
    ).map(";".join),
)


@SETTINGS
@given(
    header=st.one_of(cookie_text, cookie_text.map(Text)),
    max_count=st.one_of(st.just(200), st.integers(-1, 4)),
)
def test_parse_cookie_agrees(header: str, max_count: int) -> None:
    compiled = outcome(lambda: _headers.parse_cookie(header, max_count))
    assert compiled == outcome(lambda: _headers_py.parse_cookie(header, max_count))
    assert compiled[0] == "ok"


TOKEN = "!#$%&'*+-.^_`|~09azAZ"
# Characters on either side of each rule: HTAB, controls, DEL, C1, latin-1, beyond.
EDGES = "\t\r\n\x00\x08\x0a\x1f \x7f\x80\x9f\xa0\xad\xff\u0100\u2603\ud800\U0001f600a"
header_names = st.one_of(
    st.text(st.sampled_from(TOKEN), max_size=8),
    st.text(
        st.one_of(st.sampled_from(TOKEN + ' :"(),;\u00fc\u212a' + EDGES), ANY_CHAR), max_size=6
    ),
    st.sampled_from(["", "a b", " x", "x ", "x:y", "-", "x-\u0131", "\u212a", "a\tb"]),
    st.sampled_from([b"x", None, 1]),
    st.text(st.sampled_from(TOKEN + " \r"), max_size=4).map(Text),
)
blank_ends = st.builds(
    lambda before, middle, after: before + middle + after,
    blanks,
    st.text(st.one_of(st.sampled_from(EDGES), ANY_CHAR), max_size=4),
    blanks,
)
header_values = st.one_of(
    blank_ends,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10),
    st.text(st.sampled_from(EDGES), max_size=6),
    st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=10),
    st.text(ANY_CHAR, max_size=6),
    st.sampled_from([b"v", None]),
    st.text(st.sampled_from(EDGES), max_size=3).map(Text),
)


@SETTINGS
@given(name=header_names, value=header_values)
def test_encode_header_agrees(name: Any, value: Any) -> None:
    compiled = outcome(lambda: _headers.encode_header(name, value), message=True)
    assert compiled == outcome(lambda: _headers_py.encode_header(name, value), message=True)


@SETTINGS
@given(
    pairs=st.lists(
        st.one_of(
            st.tuples(header_names, header_values),
            st.tuples(st.text(st.sampled_from(TOKEN), min_size=1, max_size=4), st.text(max_size=4)),
            st.lists(st.text(st.sampled_from(TOKEN), max_size=2), max_size=4).map(tuple),
            st.sampled_from([None, 1, "ab", "abc"]),
        ),
        max_size=5,
    )
)
def test_encode_headers_agrees(pairs: list[tuple[Any, Any]]) -> None:
    compiled = outcome(lambda: _headers.encode_headers(pairs), message=True)
    assert compiled == outcome(lambda: _headers_py.encode_headers(pairs), message=True)
    if all(
        isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        for pair in pairs
    ):
        mapping = dict(pairs)
        compiled = outcome(lambda: _headers.encode_headers(mapping), message=True)
        assert compiled == outcome(lambda: _headers_py.encode_headers(mapping), message=True)


framing_names = st.sampled_from(
    [
        b"content-length",
        b"Content-Length",
        b"transfer-encoding",
        b"TRANSFER-ENCODING",
        b"host",
        b"Host",
        b"hosts",
        b"x",
    ]
)


@SETTINGS
@given(
    raw=st.lists(st.tuples(st.one_of(framing_names, raw_names), st.binary(max_size=4)), max_size=8)
)
def test_framing_problem_agrees(raw: list[tuple[bytes, bytes]]) -> None:
    assert outcome(_headers.framing_problem, raw) == outcome(_headers_py.framing_problem, raw)


@pytest.mark.parametrize(
    "make",
    [
        lambda: [iter((memoryview(b"host"), b"x"))],  # unpacks once, then a wrong name
        lambda: [iter((None, b"x"))],
        lambda: [(b"a", b"b"), iter((b"host", b"x")), (None, b"")],
        lambda: [iter((b"host",))],  # an iterator that does not unpack
    ],
)
def test_framing_problem_agrees_on_iterator_items(make: Any) -> None:
    # An item is unpacked once: the pure twin must not unpack it again to word its error.
    compiled = outcome(_headers.framing_problem, make(), message=True)
    assert compiled == outcome(_headers_py.framing_problem, make(), message=True)
