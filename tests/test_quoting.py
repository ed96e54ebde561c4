"""`bare._quoting.quote` is `urllib.parse.quote`, imported on first use."""

from __future__ import annotations

from urllib.parse import quote as urllib_quote

from hypothesis import given
from hypothesis import strategies as st

from bare._quoting import quote

SAFES = st.sampled_from(["/", "", ":/?#[]@!$&'()*+,;=%~", "!$&'()*+,;=:@/"])


@given(st.text(), SAFES, st.sampled_from([None, "strict", "surrogatepass"]))
def test_quote_is_urllibs(text: str, safe: str, errors: str | None) -> None:
    try:
        expected = urllib_quote(text, safe=safe, errors=errors)
    except UnicodeEncodeError:
        try:
            quote(text, safe=safe, errors=errors)
        except UnicodeEncodeError:
            return
        raise AssertionError("quote accepted what urllib.parse.quote refuses") from None
    assert quote(text, safe=safe, errors=errors) == expected


def test_the_default_safe_keeps_slashes() -> None:
    assert quote("a b/c") == "a%20b/c"
