"""The `Range` request header (RFC 9110 section 14): parsing, satisfiability, merging.

Pure functions, no I/O: `parse_ranges` turns a header value and a file size into the
byte ranges to send, `if_range_allows` decides whether an `If-Range` lets them apply.
"""

from __future__ import annotations

from ._conditional import strongly_equal

MAX_RANGES = 16
"""More ranges than this in one request and the header is ignored (a 200 with the
whole file, which RFC 9110 14.2 allows): a client asking for hundreds of ranges is
more likely probing than downloading."""

UNSATISFIABLE = "unsatisfiable"
"""What `parse_ranges` returns when the header is valid but no range fits the file."""

_DIGITS = frozenset("0123456789")


def _number(text: str) -> int | None:
    # int() alone would take "+5", " 5", "5_0" and non-ASCII digits.
    if not text or len(text) > 19 or not _DIGITS.issuperset(text):
        return None
    return int(text)


def parse_ranges(value: str, size: int) -> list[tuple[int, int]] | str | None:
    """The ranges `value` (a `Range` header) asks for in a file of `size` bytes.

    Returns a sorted list of inclusive `(first, last)` pairs with overlapping and
    adjacent ones merged; `UNSATISFIABLE` when the header is valid but none of its
    ranges starts inside the file; None when the header is to be ignored: another
    unit than `bytes`, a syntax error anywhere, `last < first`, or more than
    `MAX_RANGES` ranges. Linear in the header's length, plus sorting at most
    `MAX_RANGES` pairs.
    """
    unit, eq, specs = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    # Counted before splitting, so that thousands of ranges cost one pass.
    if specs.count(",") >= MAX_RANGES:
        return None
    wanted: list[tuple[int, int]] = []
    for spec in specs.split(","):
        spec = spec.strip(" \t")
        if not spec:
            continue  # RFC 9110 5.6.1: empty list elements are allowed and skipped
        first_text, dash, last_text = spec.partition("-")
        if not dash:
            return None
        if not first_text:  # "-N": the last N bytes
            suffix = _number(last_text)
            if suffix is None:
                return None
            if suffix > 0 and size > 0:
                wanted.append((max(0, size - suffix), size - 1))
            continue
        first = _number(first_text)
        if first is None:
            return None
        if last_text:
            last = _number(last_text)
            if last is None or last < first:
                return None
        else:
            last = size - 1
        if first < size:
            wanted.append((first, min(last, size - 1)))
    if not wanted:
        # Only a header that asked for something is unsatisfiable; "bytes=" and
        # "bytes=," are not valid range sets.
        return UNSATISFIABLE if specs.strip(" \t,") else None
    return merge(wanted)


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`ranges` sorted, with the ones that overlap or touch joined (O(n log n))."""
    ranges = sorted(ranges)
    merged = [ranges[0]]
    for first, last in ranges[1:]:
        previous_first, previous_last = merged[-1]
        if first <= previous_last + 1:
            merged[-1] = (previous_first, max(previous_last, last))
        else:
            merged.append((first, last))
    return merged


def if_range_allows(value: str, etag: str, mtime: float) -> bool:
    """Whether an `If-Range` of `value` lets the `Range` apply (RFC 9110 13.1.5).

    An entity tag must be strongly equal to `etag` (a weak one never is); a date must
    be exactly the file's modification time, to the second. Anything else, including
    a date that does not parse, means the whole file is sent.
    """
    value = value.strip(" \t")
    if value.startswith(('"', "W/")):
        return strongly_equal(value.encode("latin-1"), etag.encode("latin-1"))
    from email.utils import parsedate_to_datetime  # NOTE: lazy, as `import bare` stays cheap

    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    if date is None or date.tzinfo is None:
        return False
    return int(date.timestamp()) == int(mtime)
