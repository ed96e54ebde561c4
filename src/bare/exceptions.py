"""Exceptions a handler raises to answer with an HTTP error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ClientDisconnect",
    "HTTPException",
    "RequestValidationError",
    "WebSocketException",
]


def _phrase(status: int) -> str:
    from http import HTTPStatus  # here: building the enum is a cost `import bare` need not pay

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class HTTPException(Exception):
    """Raise to answer with `status`; `detail` goes to the client, so keep it safe to show.

    `detail` defaults to the status phrase (`404` -> "Not Found"). `status_code=` is
    accepted in place of `status`, as Starlette and FastAPI spell it.
    """

    def __init__(
        self,
        status: int | None = None,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        if status_code is not None:
            if status is not None:
                raise TypeError("give the status once: status or status_code, not both")
            status = status_code
        if status is None:
            raise TypeError("HTTPException needs a status, e.g. HTTPException(404)")
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError(f"an HTTP status is an int from 100 to 599, not {status!r}")
        if detail is None:
            detail = _phrase(status)
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers) if headers else None
        if self.headers:
            from .headers import check_header

            for name, value in self.headers.items():
                check_header(name, value)  # a bad header fails here, in the handler

    @property
    def status_code(self) -> int:
        return self.status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, detail={self.detail!r})"


class ValidationErrors(list[dict[str, Any]]):
    """The errors of a `RequestValidationError`: a list, also callable as FastAPI's
    `exc.errors()` is (it returns a copy)."""

    def __call__(self) -> list[dict[str, Any]]:
        return list(self)


class RequestValidationError(HTTPException):
    """A typed handler's parameters or body did not validate: a 422 whose detail is
    the list of `errors`, each `{"loc": [...], "msg": ..., "type": ...}` (and the
    rejected `input` when it is short). Register an exception handler for this class
    to answer with another shape (docs/typed.md)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        found = ValidationErrors(errors)
        super().__init__(422, found)
        self.errors = found

    def __repr__(self) -> str:
        return f"RequestValidationError({self.errors!r})"


class ClientDisconnect(Exception):
    """The client went away while its request body was being read."""


class WebSocketException(Exception):
    """Raise in a WebSocket handler to close the connection with `code` (4000-4999 for
    application codes) and a `reason` the client will see."""

    def __init__(self, code: int = 1008, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
