"""Form bodies: the limits that bound parsing them.

`FormLimits` is one value with every limit that applies while a form body
(`application/x-www-form-urlencoded` or `multipart/form-data`) is parsed. An app sets
its own with `Bare(form_limits=...)`, a route with the route option `form_limits=`,
and one call with the keywords of `request.form(...)`. The total size of a body is
bounded by the body limit (`max_body_size`), not here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FormLimits"]

KIB = 1024
MIB = 1024 * KIB


class FormLimits:
    """The limits on a form body, each on by default.

    - `max_fields`: the most non-file fields (1000).
    - `max_files`: the most file parts (1000).
    - `max_part_size`: the most bytes in the value of one non-file field (1 MiB).
    - `max_file_size`: the most bytes in one file (`None`: only the body limit).
    - `max_part_header_size`: the most bytes of headers in one multipart part (8 KiB).
    - `max_part_headers`: the most headers in one multipart part (16).
    - `max_field_name_length`: the longest field name, in bytes (1024).
    - `spool_max_size`: files larger than this are spooled to a temporary file on disk
      instead of kept in memory (1 MiB).

    Sizes and counts are ints >= 0 (`max_file_size` may be `None`); anything else is
    refused with a `ValueError` when the value is built.
    """

    __slots__ = (
        "max_field_name_length",
        "max_fields",
        "max_file_size",
        "max_files",
        "max_part_header_size",
        "max_part_headers",
        "max_part_size",
        "spool_max_size",
    )

    def __init__(
        self,
        *,
        max_fields: int = 1000,
        max_files: int = 1000,
        max_part_size: int = MIB,
        max_file_size: int | None = None,
        max_part_header_size: int = 8 * KIB,
        max_part_headers: int = 16,
        max_field_name_length: int = 1024,
        spool_max_size: int = MIB,
    ) -> None:
        self.max_fields = _count(max_fields, "max_fields")
        self.max_files = _count(max_files, "max_files")
        self.max_part_size = _count(max_part_size, "max_part_size")
        self.max_file_size = (
            None if max_file_size is None else _count(max_file_size, "max_file_size")
        )
        self.max_part_header_size = _count(max_part_header_size, "max_part_header_size")
        self.max_part_headers = _count(max_part_headers, "max_part_headers")
        self.max_field_name_length = _count(max_field_name_length, "max_field_name_length")
        self.spool_max_size = _count(spool_max_size, "spool_max_size")

    def replace(self, **changes: Any) -> FormLimits:
        """A copy with `changes` applied (checked as the constructor checks them)."""
        unknown = sorted(set(changes) - set(self.__slots__))
        if unknown:
            known = ", ".join(sorted(self.__slots__))
            raise TypeError(f"unknown form limit {unknown[0]!r}; form limits are: {known}")
        return FormLimits(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, int | None]:
        """Every limit, by name."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormLimits) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().items()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"FormLimits({fields})"


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"form limit {name} must be an int >= 0, not {value!r}")
    return value
