"""JSON Schema for the OpenAPI document (`bare.openapi`), from the validation engine.

msgspec's `schema_components` describes msgspec structs, dataclasses, TypedDicts and
builtins, all in one pass, so that each model becomes one component; pydantic's own
`TypeAdapter(...).json_schema` describes pydantic models. Both refer to components as
`#/components/schemas/{name}`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any, Literal

from ._typeinfo import is_class

__all__ = ["REF_PREFIX", "Schemas"]

REF_PREFIX = "#/components/schemas/"
_MSGSPEC_HINT = "pip install msgspec (or, in a checkout of bare, pip install '.[typed]')"

# The error bodies bare sends: `{"detail": "..."}` for 4xx, and the list of problems of
# a `RequestValidationError` (docs/typed.md).
_HTTP_ERROR = {
    "title": "HTTPError",
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
        "input": {},
    },
    "required": ["loc", "msg", "type"],
}
_HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {"detail": {"type": "array", "items": {"$ref": REF_PREFIX + "ValidationError"}}},
    "required": ["detail"],
}


class Schemas:
    """JSON Schemas asked for while the operations are built, made at the end in one
    pass per engine, so that a model used by many operations becomes one component.

    `schema(type)` hands out an empty dict at once and fills it in `finish()`; the
    caller may add keywords (`default`, `description`) meanwhile.
    """

    def __init__(self) -> None:
        self._msgspec: list[tuple[Any, dict[str, Any]]] = []
        self._pydantic: list[
            tuple[Any, Literal["validation", "serialization"], dict[str, Any]]
        ] = []
        self._builtins: list[tuple[str, dict[str, Any]]] = []

    def schema(self, annotation: Any, *, serialization: bool = False) -> dict[str, Any]:
        """The schema of `annotation` (as sent, with `serialization`; as read, else),
        filled in by `finish()`."""
        holder: dict[str, Any] = {}
        if _mentions_pydantic(annotation):
            self._pydantic.append(
                (annotation, "serialization" if serialization else "validation", holder)
            )
        else:
            self._msgspec.append((annotation, holder))
        return holder

    def builtin(self, name: str) -> dict[str, Any]:
        """A reference to one of bare's error bodies: "HTTPError" or
        "HTTPValidationError", filled in by `finish()`."""
        holder: dict[str, Any] = {}
        self._builtins.append((name, holder))
        return holder

    def finish(self) -> dict[str, Any]:
        """Fill every schema handed out; return the components they refer to."""
        components: dict[str, Any] = {}
        if self._msgspec:
            self._fill_msgspec(components)
        if self._pydantic:
            self._fill_pydantic(components)
        for name, holder in self._builtins:
            if name == "HTTPValidationError":
                error = _add_component(components, "ValidationError", _VALIDATION_ERROR)
                schema = _rename_refs(_HTTP_VALIDATION_ERROR, {"ValidationError": error})
                holder.update(_ref(_add_component(components, name, schema)))
            else:
                holder.update(_ref(_add_component(components, name, _HTTP_ERROR)))
        return dict(sorted(components.items()))

    def _fill_msgspec(self, components: dict[str, Any]) -> None:
        try:
            import msgspec
        except ImportError:  # pragma: no cover - typed routes need it to be registered
            raise RuntimeError(f"the OpenAPI document needs msgspec: {_MSGSPEC_HINT}") from None
        types = [annotation for annotation, _ in self._msgspec]
        template = REF_PREFIX + "{name}"
        try:
            schemas, found = msgspec.json.schema_components(types, ref_template=template)
        except (TypeError, ValueError):
            # One type msgspec cannot describe (it could not decode it either): any
            # value for that one, the rest in one pass.
            usable = [t for t in types if _describable(msgspec, t)]
            schemas_of, found = msgspec.json.schema_components(usable, ref_template=template)
            by_type = iter(schemas_of)
            schemas = tuple(next(by_type) if _describable(msgspec, t) else {} for t in types)
        for (_, holder), schema in zip(self._msgspec, schemas):
            holder.update({**_one_of(schema), **holder})
        for name, schema in found.items():
            components[name] = _one_of(schema)

    def _fill_pydantic(self, components: dict[str, Any]) -> None:
        from pydantic import TypeAdapter

        for annotation, mode, holder in self._pydantic:
            schema = TypeAdapter(annotation).json_schema(
                mode=mode, ref_template=REF_PREFIX + "{model}"
            )
            definitions = schema.pop("$defs", {})
            renames: dict[str, str] = {}
            for name, definition in definitions.items():
                renames[name] = _add_component(components, name, definition, renames)
            # The model itself is a component too, referred to from the operation.
            title = schema.get("title")
            if schema.get("type") == "object" and isinstance(title, str) and title:
                name = _add_component(components, _component_name(title), schema, renames)
                schema = _ref(name)
            holder.update({**_rename_refs(schema, renames), **holder})


def _describable(msgspec: Any, annotation: Any) -> bool:
    try:
        msgspec.json.schema(annotation)
    except (TypeError, ValueError):
        return False
    return True


def _component_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-_]", "_", name)


def _add_component(
    components: dict[str, Any],
    name: str,
    schema: dict[str, Any],
    renames: dict[str, str] | None = None,
) -> str:
    """Add `schema` under `name`, or under `name2`... if another schema has that name;
    returns the name it is known by."""
    if renames:
        schema = _rename_refs(schema, renames)
    candidate, number = name, 1
    while candidate in components and components[candidate] != schema:
        number += 1
        candidate = f"{name}{number}"
    components[candidate] = schema
    return candidate


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF_PREFIX + name}


def _rename_refs(value: Any, renames: Mapping[str, str]) -> Any:
    """A copy of a schema with its component references renamed."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(REF_PREFIX):
                name = item[len(REF_PREFIX) :]
                out[key] = REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rename_refs(item, renames)
        return out
    if isinstance(value, list):
        return [_rename_refs(item, renames) for item in value]
    return value


def _one_of(value: Any) -> Any:
    """msgspec writes a tagged union as `anyOf` with a `discriminator`; its members
    exclude one another by their tag, which OpenAPI says with `oneOf`."""
    if isinstance(value, dict):
        if "discriminator" in value and "anyOf" in value and "oneOf" not in value:
            value = {"oneOf" if key == "anyOf" else key: item for key, item in value.items()}
        return {key: _one_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_one_of(item) for item in value]
    return value


def _mentions_pydantic(annotation: Any, depth: int = 0) -> bool:
    """Whether a type is, or contains, a pydantic model (looked for only when pydantic
    has been imported: a model cannot exist otherwise)."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or depth > 16:
        return False
    if is_class(annotation) and issubclass(annotation, pydantic.BaseModel):
        return True
    import typing

    return any(
        _mentions_pydantic(arg, depth + 1)
        for arg in typing.get_args(annotation)
        if not isinstance(arg, (str, int, float, bytes)) and arg is not Ellipsis
    )
