"""The two parsers behind `bare._json.loads`, msgspec's and the standard library's, held
together on generated bodies, hostile and valid, with `json.loads` as the plain oracle
for valid ones (tests/test_json.py runs the written cases on each)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bare._json import JSONDecodeError, msgspec_parser, parse_stdlib, too_deep

parse_msgspec = msgspec_parser()
assert parse_msgspec is not None, "the test extra installs msgspec"


def outcome(parse: Any, body: bytes) -> tuple[str, str]:
    """What `loads` makes of `body` with `parse` behind it: the value, written with its
    types, or that it was refused."""
    try:
        if too_deep(body):
            return ("refused", "")
        value = parse(body)
    except JSONDecodeError:
        return ("refused", "")
    return ("parsed", typed_repr(value))


def typed_repr(value: Any) -> str:
    # repr() tells 1 from 1.0 and -0.0 from 0.0, which == does not.
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{typed_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(typed_repr(item) for item in value) + "]"
    return repr(value)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Bodies a hostile client might send: pieces of JSON syntax, escapes, numbers at the
# edges, bytes that are not UTF-8.
_tokens = st.sampled_from(
    [
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b":",
        b'"',
        b"\\",
        b"\\u",
        b"d800",
        b"dc00",
        b"00e9",
        b"1",
        b"-",
        b"0",
        b".",
        b"e",
        b"E",
        b"+",
        b"999",
        b"1e400",
        b"true",
        b"null",
        b"NaN",
        b"Infinity",
        b" ",
        b"\n",
        b"\t",
        b"\x00",
        b"\xff",
        b"\xc3\xa9",
        b"\xed\xa0\x80",
        b"\xef\xbb\xbf",
        b"a",
    ]
)
_bodies = st.one_of(
    _json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(_tokens, max_size=24).map(b"".join),
    st.binary(max_size=24),
)


@given(_bodies)
def test_both_parsers_give_the_same_answers(body: bytes) -> None:
    assert outcome(parse_msgspec, body) == outcome(parse_stdlib, body)


@given(_json_values)
def test_valid_bodies_read_as_json_loads_reads_them(value: Any) -> None:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    expected = ("parsed", typed_repr(json.loads(body)))
    if "refused" in (outcome(parse_stdlib, body)[0], outcome(parse_msgspec, body)[0]):
        # Only text with a lone surrogate may be refused; json.loads takes it.
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(value, ensure_ascii=False))
    else:
        assert outcome(parse_stdlib, body) == outcome(parse_msgspec, body) == expected
