"""Security headers every production site wants, with safe defaults.

Each header is an option; pass None to leave it out. A header the response already
has is left as the handler set it, so a route can loosen (or tighten) one for itself.
"""

from __future__ import annotations

from typing import Final

from ..headers import encode_header
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware"]

_REFERRER_POLICIES: Final = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
_OPENER_POLICIES: Final = frozenset(
    {"same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"}
)
_FRAME_OPTIONS: Final = frozenset({"DENY", "SAMEORIGIN"})
# The HSTS preload list asks for at least a year, and for subdomains too.
_PRELOAD_MIN_AGE: Final = 31536000

Pairs = list[tuple[bytes, bytes]]


class SecurityHeadersMiddleware:
    """Add security headers to every HTTP response that does not have them already.

    - `content_type_options`: `X-Content-Type-Options` ("nosniff").
    - `referrer_policy`: `Referrer-Policy` ("strict-origin-when-cross-origin"); a
      comma-separated list gives fallbacks.
    - `frame_options`: `X-Frame-Options` ("DENY", or "SAMEORIGIN"). Browsers that know
      CSP obey its `frame-ancestors` instead, when the policy has one.
    - `cross_origin_opener_policy`: `Cross-Origin-Opener-Policy` ("same-origin").
    - `content_security_policy`: `Content-Security-Policy` (None: not sent).
    - `hsts_max_age`: `Strict-Transport-Security`'s max-age in seconds (63072000, two
      years); `hsts_include_subdomains` adds `includeSubDomains` (True) and
      `hsts_preload` adds `preload` (False).

    `Strict-Transport-Security` goes only on responses to HTTPS requests (a browser
    ignores it over plain HTTP); `hsts_max_age=None` leaves it out. Values are checked
    here: a malformed or unknown one raises `ValueError`.
    """

    def __init__(
        self,
        app: ASGIApp,
        content_type_options: str | None = "nosniff",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        frame_options: str | None = "DENY",
        cross_origin_opener_policy: str | None = "same-origin",
        content_security_policy: str | None = None,
        hsts_max_age: int | None = 63072000,
        hsts_include_subdomains: bool = True,
        hsts_preload: bool = False,
    ) -> None:
        self.app = app
        headers: Pairs = []
        if content_type_options is not None:
            if content_type_options != "nosniff":
                raise ValueError(
                    f"content_type_options can only be 'nosniff' (or None to leave the header "
                    f"out), not {content_type_options!r}"
                )
            headers.append(encode_header("x-content-type-options", content_type_options))
        if referrer_policy is not None:
            _check_list("referrer_policy", referrer_policy, _REFERRER_POLICIES)
            headers.append(encode_header("referrer-policy", referrer_policy))
        if frame_options is not None:
            _check_one("frame_options", frame_options, _FRAME_OPTIONS)
            headers.append(encode_header("x-frame-options", frame_options))
        if cross_origin_opener_policy is not None:
            _check_one("cross_origin_opener_policy", cross_origin_opener_policy, _OPENER_POLICIES)
            headers.append(encode_header("cross-origin-opener-policy", cross_origin_opener_policy))
        if content_security_policy is not None:
            _check_text("content_security_policy", content_security_policy)
            headers.append(encode_header("content-security-policy", content_security_policy))
        if not isinstance(hsts_include_subdomains, bool):
            raise TypeError(
                f"hsts_include_subdomains must be True or False, not {hsts_include_subdomains!r}"
            )
        if not isinstance(hsts_preload, bool):
            raise TypeError(f"hsts_preload must be True or False, not {hsts_preload!r}")
        self.headers = headers
        self.https_headers = list(headers)
        if hsts_max_age is not None:
            self.https_headers.append(
                encode_header(
                    "strict-transport-security",
                    _hsts(hsts_max_age, hsts_include_subdomains, hsts_preload),
                )
            )
        elif hsts_preload:
            raise ValueError("hsts_preload=True needs the header: give hsts_max_age too")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.https_headers if scope.get("scheme") == "https" else self.headers
        if not extra:
            await self.app(scope, receive, send)
            return

        # NOTE: not `add_response_headers`: the hand-over appends blindly, and a handler
        # that set its own X-Frame-Options or CSP would then send two, which browsers
        # read as both (CSP: each enforced) or as invalid (X-Frame-Options: ignored).
        # Only the start message tells which names the response already has.
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in extra if pair[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _hsts(max_age: int, include_subdomains: bool, preload: bool) -> str:
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
        raise ValueError(f"hsts_max_age must be seconds (an int >= 0) or None, not {max_age!r}")
    if preload and (max_age < _PRELOAD_MIN_AGE or not include_subdomains):
        raise ValueError(
            "hsts_preload=True needs hsts_max_age >= 31536000 (a year) and "
            "hsts_include_subdomains=True: the preload list refuses less"
        )
    value = f"max-age={max_age}"
    if include_subdomains:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value


def _check_text(option: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{option} must be a str or None, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{option} is empty: pass None to leave the header out")


def _check_one(option: str, value: str, known: frozenset[str]) -> None:
    _check_text(option, value)
    if value.upper() not in known and value.lower() not in known:
        raise ValueError(f"{option} must be one of {', '.join(sorted(known))}, not {value!r}")


def _check_list(option: str, value: str, known: frozenset[str]) -> None:
    """A comma-separated list of known tokens (Referrer-Policy lists fallbacks)."""
    _check_text(option, value)
    for item in value.split(","):
        if item.strip() not in known:
            raise ValueError(
                f"{option}: {item.strip()!r} is not a policy; use {', '.join(sorted(known))}"
            )
