"""Encoding what a typed handler returns: as its response model (fields the model lacks
are never sent), with the route's status and response class."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._json import default
from ._typeinfo import callable_name, is_class, is_pydantic, mentions_pydantic
from .responses import JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from ._signature import HandlerPlan

__all__ = ["responder"]

_NATIVE = (str, dict, list, bytes, type(None))


def responder(
    msgspec: Any, plan: HandlerPlan, response_class: type[Response] | None
) -> Callable[[Any], Any] | None:
    """What turns the handler's result into what `serve` sends; None: the result as
    it is (no model, no status, no class; bare's usual rules)."""
    status = plan.status_code
    model = plan.response_model
    # What msgspec cannot encode itself (a pydantic model returned without a response
    # model, say) is written as plain handlers' results are; unknown objects are refused.
    encode = msgspec.json.Encoder(enc_hook=default).encode
    handler = callable_name(plan.call)
    if model is not None:
        to_model = _model_converter(msgspec, model, handler)
        if response_class is None or response_class is JSONResponse:

            def encode_model(result: Any) -> Any:
                if isinstance(result, Response):
                    return result
                return _json(to_model(result, encode), status)

            return encode_model

        assert response_class is not None
        cls = response_class

        def model_in_class(result: Any) -> Any:
            if isinstance(result, Response):
                return result
            return cls(to_model(result, None), status=status)

        return model_in_class
    if response_class is None and status == 200:

        def as_plain(result: Any) -> Any:
            if type(result) in _NATIVE or isinstance(result, Response):
                return result
            return _json(encode(result), 200)

        return as_plain
    cls_or_none = response_class

    def with_status(result: Any) -> Any:
        if isinstance(result, Response):
            return result
        if cls_or_none is not None:
            if type(result) not in _NATIVE:
                result = msgspec.to_builtins(result, enc_hook=default)
            return cls_or_none(result, status=status)
        kind = type(result)
        if result is None:
            return Response(status=status)
        if kind is str:
            return PlainTextResponse(result, status)
        if kind is bytes:
            return Response(result, status, content_type="application/octet-stream")
        if kind is dict or kind is list:
            return JSONResponse(result, status)
        return _json(encode(result), status)

    return with_status


def _json(body: bytes, status: int) -> Response:
    return Response(body, status, content_type="application/json")


def _model_converter(msgspec: Any, model: Any, handler: str) -> Callable[[Any, Any], Any]:
    """`to_model(result, encode)`: the result as the model, encoded when `encode` is
    given, else as builtins. Fields the model lacks are dropped; a result that does
    not fit is the server's error (a 500, logged), never sent half-right."""
    if is_pydantic(model) or mentions_pydantic(model):
        import pydantic

        adapter = pydantic.TypeAdapter(model)

        def to_pydantic(result: Any, encode: Any) -> Any:
            try:
                value = adapter.validate_python(result, from_attributes=True)
            except pydantic.ValidationError as exc:
                raise TypeError(
                    f"{handler} returned a value that does not fit {model!r}: {exc}"
                ) from None
            if encode is None:
                return adapter.dump_python(value, mode="json")
            return adapter.dump_json(value)

        return to_pydantic
    exact = model if is_class(model) else None
    convert = msgspec.convert
    to_builtins = msgspec.to_builtins
    validation_error = msgspec.ValidationError

    def to_struct(result: Any, encode: Any) -> Any:
        if type(result) is not exact:
            try:
                result = convert(result, model, from_attributes=True)
            except validation_error as exc:
                raise TypeError(
                    f"{handler} returned a value that does not fit {model!r}: {exc}"
                ) from None
        return to_builtins(result) if encode is None else encode(result)

    return to_struct
