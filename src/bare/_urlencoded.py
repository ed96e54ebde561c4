"""`application/x-www-form-urlencoded` bodies (WHATWG URL standard, section 5.1), read
under a form's limits.

Pairs are split on `&` only (never `;`), `+` is a space, `%XX` escapes are decoded (a
`%` that does not start one stays as it is), and the names and values must then be
UTF-8. Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` is a name with an
empty value. Linear in the size of the body; every limit is checked as the pairs are
read, so a body past one stops being read there.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from .forms import FormData, FormLimits, limit_exceeded, malformed

__all__ = ["parse_urlencoded"]

# The pieces are found by a regex rather than split(): a body of a million `&`
# would otherwise make a list of a million empty pieces.
_PIECES = re.compile(rb"[^&]+").finditer


def parse_urlencoded(body: bytes, limits: FormLimits) -> FormData:
    """The fields of `body`; a 413 past a limit, a 400 for text that is not UTF-8."""
    if b"+" in body:
        body = body.replace(b"+", b" ")  # `+` is no separator: safe before splitting
    escaped = b"%" in body
    max_fields = limits.max_fields
    max_value = limits.max_part_size
    max_name = limits.max_field_name_length
    items: list[tuple[str, str]] = []
    append = items.append
    try:
        for match in _PIECES(body):
            if len(items) >= max_fields:
                raise limit_exceeded(limits, "max_fields")
            name, _, value = match.group().partition(b"=")
            if escaped:
                if b"%" in name:
                    name = unquote_to_bytes(name)
                if b"%" in value:
                    value = unquote_to_bytes(value)
            if len(name) > max_name:
                raise limit_exceeded(limits, "max_field_name_length")
            if len(value) > max_value:
                raise limit_exceeded(limits, "max_part_size")
            append((name.decode("utf-8"), value.decode("utf-8")))
    except UnicodeDecodeError:
        raise malformed("Form data is not valid UTF-8") from None
    return FormData(items)
