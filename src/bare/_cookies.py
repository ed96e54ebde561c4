"""Building `Set-Cookie` values (RFC 6265), refusing what a browser would misread."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["cookie_header"]

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 6265 cookie-octet: printable ASCII less space, DQUOTE, comma, semicolon and backslash.
_COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",;\\')
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _attribute_text(name: str, text: str) -> str:
    if any(c == ";" or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"cookie {name} {text!r} contains ';' or a control character")
    return text


def _expires_text(expires: Any) -> str:
    # email.utils costs more to import than the rest of bare: only cookies that expire
    # need it. A datetime value means the datetime module is loaded already.
    from email.utils import format_datetime, formatdate

    datetime = sys.modules.get("datetime")
    if datetime is not None and isinstance(expires, datetime.datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.timezone.utc)
        return format_datetime(expires.astimezone(datetime.timezone.utc), usegmt=True)
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        # Seconds from now, as Max-Age would say; 0 or less is the past.
        return formatdate(time.time() + expires if expires > 0 else 0, usegmt=True)
    if isinstance(expires, str):
        return _attribute_text("expires", expires)
    raise TypeError(f"cookie expires must be a datetime, seconds or a string, not {expires!r}")


def cookie_header(
    key: str,
    value: str,
    max_age: int | None,
    expires: Any,
    path: str | None,
    domain: str | None,
    secure: bool,
    httponly: bool,
    samesite: str | None,
) -> str:
    """The value of one `Set-Cookie` header; `ValueError` for anything unsafe."""
    if not key or not _TOKEN.issuperset(key):
        raise ValueError(f"invalid cookie name {key!r}: use letters, digits and !#$%&'*+-.^_`|~")
    if not _COOKIE_OCTETS.issuperset(value):
        raise ValueError(
            f"cookie {key!r}: the value may not contain spaces, quotes, ',', ';', '\\' or "
            "non-ASCII characters; encode it first (for example with urllib.parse.quote)"
        )
    parts = [f"{key}={value}"]
    if max_age is not None:
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise TypeError(f"cookie max_age must be an int, not {max_age!r}")
        parts.append(f"Max-Age={max_age}")
    if expires is not None:
        parts.append(f"Expires={_expires_text(expires)}")
    if domain is not None:
        parts.append(f"Domain={_attribute_text('domain', domain)}")
    if path is not None:
        parts.append(f"Path={_attribute_text('path', path)}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        try:
            parts.append(f"SameSite={_SAMESITE[samesite.lower()]}")
        except KeyError:
            raise ValueError(
                f"cookie samesite must be 'lax', 'strict' or 'none', not {samesite!r}"
            ) from None
        if samesite.lower() == "none" and not secure:
            raise ValueError(
                "cookie samesite='none' needs secure=True (browsers refuse it otherwise)"
            )
    return "; ".join(parts)
