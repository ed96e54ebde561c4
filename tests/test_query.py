"""`bare._query.parse_query` against the standard library's `parse_qsl`, the oracle.

bare reads query strings itself (decoding only the pieces that need it); the answers
must be exactly those of `parse_qsl(query, keep_blank_values=True, max_num_fields=N)`
on every Python bare supports.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bare._query import TooManyItems, parse_query


def oracle(query: str, max_items: int = 1000) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, max_num_fields=max_items):
        params.setdefault(name, []).append(value)
    return params


# Query strings as servers hand them over: the raw bytes decoded as latin-1, so any
# character below U+0100, with the ones that mean something to the parser made common.
_pieces = st.sampled_from(
    ["&", "=", "+", "%", "%2", "%20", "%2B", "%26", "%3D", "%C3%A9", "%E9", "%ZZ", "%%", "a", "b"]
)
queries = st.lists(
    st.one_of(_pieces, st.characters(max_codepoint=0xFF), st.text(max_size=3)), max_size=30
).map("".join)


@given(queries)
def test_answers_as_parse_qsl(query: str) -> None:
    assert parse_query(query, 1000) == oracle(query)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "a=1",
        "a=1&a=2&b=",
        "a&b&&c=",
        "&&&",
        "=",
        "=x",
        "a==b",
        "a+b=c+d",
        "name=%C3%A9t%C3%A9",
        "bad=%E9%",
        "plus=%2B+",
        "caf\xe9=\xe9",
        "a=1;b=2",
    ],
    ids=[
        "empty",
        "one",
        "repeated",
        "no-values",
        "only-separators",
        "bare-equals",
        "empty-name",
        "two-equals",
        "plus-is-space",
        "utf8-escapes",
        "invalid-utf8",
        "escaped-plus",
        "latin1-text",
        "semicolon-is-text",
    ],
)
def test_known_cases(query: str) -> None:
    assert parse_query(query, 1000) == oracle(query)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=45))
def test_the_item_limit_counts_as_parse_qsl_does(max_items: int, ampersands: int) -> None:
    # parse_qsl counts the pieces before skipping the empty ones; so does bare.
    query = "&".join(["a=1"] * (ampersands + 1)) if ampersands % 2 else "a=1" + "&" * ampersands
    try:
        expected = oracle(query, max_items)
    except ValueError:
        with pytest.raises(TooManyItems):
            parse_query(query, max_items)
    else:
        assert parse_query(query, max_items) == expected
