"""Reading a typed handler's body: JSON decoded and validated in one pass by msgspec (or
pydantic), the raw bytes or text, or a form's fields and files. A body that is not JSON
is a 400, one with another content type a 415, a value that does not fit a 422 listing
every error (see `bare._validation`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._json import NESTED_TOO_DEEP, too_deep
from ._typeinfo import converter, is_pydantic, reads_bytes
from ._validation import body_errors, error, missing, msgspec_error
from .exceptions import HTTPException
from .requests import is_json_content_type

if TYPE_CHECKING:
    from ._signature import BodyPlan
    from .requests import Request

__all__ = ["BodyReader", "body_reader"]

BodyReader = Callable[["Request", dict[Any, Any], list[dict[str, Any]]], Awaitable[None]]


def body_reader(msgspec: Any, body: BodyPlan, keys: list[tuple[Any, str]]) -> BodyReader:
    """Reads the body into the values (`keys`: the values' key of each body field,
    by its name in the body): JSON, raw, or a form."""
    if body.fields or body.media_type in (
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    ):
        return _form_reader(msgspec, body, keys)
    annotation = body.annotation
    if body.name is not None and annotation in (bytes, str):
        return _raw_reader(body, keys)
    return _json_reader(msgspec, body, keys)


def _raw_reader(body: BodyPlan, keys: list[tuple[Any, str]]) -> BodyReader:
    ((key, _),) = keys
    as_text = body.annotation is str
    required = body.required
    default = body.default

    async def read(request: Request, values: dict[Any, Any], errors: list[Any]) -> None:
        raw = await request.body()
        if not raw and not required:
            values[key] = default
        elif as_text:
            values[key] = await request.text()
        else:
            values[key] = raw

    return read


def _json_reader(msgspec: Any, body: BodyPlan, keys: list[tuple[Any, str]]) -> BodyReader:
    annotation = body.annotation
    whole = body.name is not None
    media_type = body.media_type
    required = body.required
    if is_pydantic(annotation):
        decode = _pydantic_decoder(annotation)
    else:
        decode = msgspec.json.Decoder(annotation).decode
    attributes = [] if whole else _struct_attributes(msgspec, annotation, keys)
    default = body.default
    decode_error = msgspec.DecodeError
    validation_error = msgspec.ValidationError

    async def read(request: Request, values: dict[Any, Any], errors: list[Any]) -> None:
        content_type = request.headers.get("content-type")
        if content_type and not _accepts(content_type, media_type):
            raise HTTPException(415, f"Content-Type must be {media_type}")
        raw = await request.body()
        if not raw.strip():
            if whole:
                if required:
                    errors.append(missing(["body"]))
                else:
                    values[keys[0][0]] = default
                return
            raw = b"{}"  # fields given one by one: each its own default or error
        if too_deep(raw):  # the depth request.json() allows, whatever the recursion limit
            raise HTTPException(400, f"Request body is not valid JSON: {NESTED_TOO_DEEP}")
        try:
            decoded = decode(raw)
        except validation_error as exc:
            _json_errors(msgspec, raw, annotation, exc, errors)
            return
        except decode_error as exc:
            raise HTTPException(400, f"Request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise HTTPException(400, "Request body is not valid JSON: nested too deeply") from None
        except _PydanticErrors as exc:
            _pydantic_errors(exc, errors)
            return
        if whole:
            values[keys[0][0]] = decoded
        else:
            for key, attribute in attributes:
                values[key] = getattr(decoded, attribute)

    return read


def _form_reader(msgspec: Any, body: BodyPlan, pairs: list[tuple[Any, str]]) -> BodyReader:
    keys = {alias: key for key, alias in pairs}
    validation_error = msgspec.ValidationError
    if not body.fields:  # a form model: the whole form into one Struct/dataclass
        model = body.annotation
        ((key, _),) = pairs
        lists = _list_fields(msgspec, model)

        async def read_model(request: Request, values: dict[Any, Any], errors: list[Any]) -> None:
            form = await request.form()
            raw: dict[str, Any] = {}
            for name in form:
                items = [v for v in form.getlist(name) if isinstance(v, str)]
                if name in lists:
                    raw[name] = items
                elif items != [""]:  # an empty input: as if not sent (see `read`)
                    raw[name] = items[0] if items else None
            try:
                values[key] = msgspec.convert(raw, model, strict=False)
            except validation_error:
                body_errors(msgspec, raw, model, ["body"], errors, strict=False)

        return read_model
    steps = []
    for field in body.fields:
        convert = None if field.is_file else converter(msgspec, field.annotation)
        as_bytes = field.is_file and reads_bytes(field.annotation)
        steps.append(
            (
                keys[field.alias],
                field.alias,
                field.is_file,
                field.is_list,
                as_bytes,
                field.required,
                field.default,
                convert,
            )
        )
    from .forms import UploadFile

    async def read(request: Request, values: dict[Any, Any], errors: list[Any]) -> None:
        form = await request.form()
        for key, alias, is_file, is_list, as_bytes, required, default, convert in steps:
            items = form.getlist(alias)
            # A browser sends the empty inputs of a form as "": such a field counts as
            # not sent (its default, or missing), as in FastAPI.
            if not items or (items == [""] and not is_list):
                if required:
                    errors.append(missing(["body", alias]))
                else:
                    values[key] = default.copy() if type(default) in (list, dict, set) else default
                continue
            if is_file:
                if not all(isinstance(item, UploadFile) for item in items):
                    errors.append(
                        error(
                            ["body", alias],
                            "Expected a file, got a text field",
                            "file_expected",
                        )
                    )
                    continue
                files: list[Any] = items
                if as_bytes:
                    files = [await item.read() for item in files]
                values[key] = files if is_list else files[0]
                continue
            if not all(isinstance(item, str) for item in items):
                errors.append(
                    error(["body", alias], "Expected a text field, got a file", "text_expected")
                )
                continue
            raw: Any = items if is_list else items[0]
            if convert is None:
                values[key] = raw
                continue
            try:
                values[key] = convert(raw)
            except validation_error as exc:
                errors.append(msgspec_error(["body", alias], exc, raw))

    return read


def _accepts(content_type: str, media_type: str) -> bool:
    """Whether a JSON body may come with this Content-Type."""
    if is_json_content_type(content_type):
        return True
    return content_type.partition(";")[0].strip().lower() == media_type


def _struct_attributes(
    msgspec: Any, struct: Any, keys: list[tuple[Any, str]]
) -> list[tuple[Any, str]]:
    """(key of the values, attribute of the synthetic struct) for each body field."""
    by_alias = {f.encode_name: f.name for f in msgspec.structs.fields(struct)}
    return [(key, by_alias[alias]) for key, alias in keys]


def _list_fields(msgspec: Any, model: Any) -> set[str]:
    info = msgspec.inspect.type_info(model)
    sequences = (
        msgspec.inspect.ListType,
        msgspec.inspect.SetType,
        msgspec.inspect.FrozenSetType,
        msgspec.inspect.VarTupleType,
    )
    return {f.encode_name for f in info.fields if isinstance(f.type, sequences)}


def _json_errors(
    msgspec: Any, raw: bytes, annotation: Any, exc: Exception, errors: list[Any]
) -> None:
    """Every error of a JSON body that did not validate; a 400 if it is not JSON at all
    (msgspec stops at the first wrong type, before it sees the rest is malformed)."""
    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.ValidationError:  # a number msgspec cannot hold: the typed error says where
        errors.append(msgspec_error(["body"], exc))
        return
    except msgspec.DecodeError as malformed:
        raise HTTPException(400, f"Request body is not valid JSON: {malformed}") from None
    except RecursionError:
        raise HTTPException(400, "Request body is not valid JSON: nested too deeply") from None
    found: list[dict[str, Any]] = []
    body_errors(msgspec, decoded, annotation, ["body"], found)
    errors.extend(found or [msgspec_error(["body"], exc)])


class _NoPydanticErrors(Exception):
    """Stands for pydantic's ValidationError where pydantic is not loaded."""


_PydanticErrors: type[Exception] = _NoPydanticErrors


def _pydantic_decoder(model: Any) -> Callable[[bytes], Any]:
    global _PydanticErrors
    import pydantic

    _PydanticErrors = pydantic.ValidationError
    return model.model_validate_json  # type: ignore[no-any-return]


def _pydantic_errors(exc: Any, errors: list[Any]) -> None:
    found = exc.errors(include_url=False, include_context=False)
    if any(item.get("type") == "json_invalid" for item in found):
        raise HTTPException(400, "Request body is not valid JSON") from None
    for item in found[:64]:
        errors.append(
            error(
                ["body", *item.get("loc", ())],
                str(item.get("msg", "")),
                str(item.get("type", "value_error")),
                item.get("input", ...),
            )
        )
