"""The OpenAPI 3.1 document of an app, built from its routes: `build_openapi(app)`.

`app.openapi()` calls it (and keeps the result until the routes change); the app serves
the document at `/openapi.json`. Typed handlers are described from the plan made when
their route was registered (`route.plan`: parameters, body, response model, status);
plain handlers from their path alone. JSON Schema comes from the validation engine:
`msgspec.json.schema_components` for msgspec structs, dataclasses and TypedDicts,
`TypeAdapter(...).json_schema` for pydantic models (`bare._jsonschema`). See
docs/openapi.md.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._jsonschema import REF_PREFIX, Schemas
from ._typeinfo import is_class, type_hints
from .exceptions import _phrase

if TYPE_CHECKING:
    from .applications import Bare
    from .routing import Route

__all__ = [
    "BINARY",
    "OPENAPI_VERSION",
    "REF_PREFIX",
    "build_openapi",
    "check_operation_ids",
    "fingerprint",
    "security_scheme",
]

OPENAPI_VERSION = "3.1.0"

# A file in a form, as OpenAPI 3.1 writes binary content; `format: binary` as well, so
# that Swagger UI shows a file picker.
BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}

# What the route converters let through, as JSON Schema (docs/routing.md).
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "path": {"type": "string"},
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}

_NO_BODY_STATUSES = frozenset({204, 205, 304})


# -- the document --------------------------------------------------------------------------


def build_openapi(app: Bare) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`: a plain dict, ready for JSON.

    A pure function of the app's routes (with those of the `Bare` apps mounted in it),
    its exception handlers, authentication middleware and its
    `title`, `version`, `description` and `servers`. Routes with
    `include_in_schema=False`, WebSocket routes and mounted apps that are not bare's
    are left out. Two routes given the same `operation_id` raise `ValueError`.
    """
    operations = list(_operations(app))
    builder = _Builder(_explicit_ids(operations))
    for prefix, owner, route, backends in operations:
        builder.add_route(prefix, owner, route, backends)
    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.description:
        info["description"] = app.description
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": info}
    if app.servers:
        document["servers"] = [dict(server) for server in app.servers]
    document["paths"] = builder.paths
    components: dict[str, Any] = {}
    schemas = builder.schemas.finish()
    if schemas:
        components["schemas"] = schemas
    if builder.security_schemes:
        components["securitySchemes"] = builder.security_schemes
    if components:
        document["components"] = components
    return document


def fingerprint(app: Bare) -> tuple[Any, ...]:
    """What the document of `app` is built from, cheaply compared: it changes when a
    route, mount, exception handler, middleware or document setting does."""
    parts: list[Any] = [app.title, app.version, app.description, repr(app.servers)]
    for owner, depth in _owners(app):
        parts.append(depth)
        parts.append(getattr(owner, "router", owner).settings)  # body limits: the 413s
        parts.extend(map(id, owner.routes))
        if _is_bare(owner):
            parts.extend(owner.exception_handlers.items())
            parts.extend(id(entry) for entry in owner._middleware)
    return tuple(parts)


def check_operation_ids(app: Bare) -> None:
    """Raise `ValueError` if two routes of `app` (mounted apps included) were given the
    same `operation_id`; the app runs it at startup, so that the mistake shows before
    the first request."""
    _explicit_ids(list(_operations(app)))


def _explicit_ids(operations: list[tuple[str, Any, Route, tuple[Any, ...]]]) -> set[str]:
    """The `operation_id`s the routes were given; two routes given the same one raise."""
    seen: dict[str, tuple[str, Route]] = {}
    for prefix, _, route, _ in operations:
        given = route.options.operation_id
        if given is None:
            continue
        first = seen.setdefault(given, (prefix, route))
        if first[1] is not route:
            other = f"{first[0] + first[1].path!r} ({first[1].name})"
            raise ValueError(
                f"operation_id {given!r} is given to two routes, {other} and "
                f"{prefix + route.path!r} ({route.name}): give each its own"
            )
    return set(seen)


# -- walking the routes ----------------------------------------------------------------------


def _is_bare(value: Any) -> bool:
    from .applications import Bare

    return isinstance(value, Bare)


def _unwrap(app: Any) -> tuple[Any, list[Any]]:
    """The bare app a mount serves, through middleware that keep the app they wrap as
    `.app` (the usual convention), and the authentication backends of those middleware;
    `(None, [])` for any other ASGI app."""
    backends: list[Any] = []
    for _ in range(32):  # a wrapper chain longer than this is not one
        if _is_bare(app):
            return app, backends
        backends.extend(getattr(app, "backends", ()) if _is_auth_middleware(app) else ())
        inner = getattr(app, "app", None)
        if inner is None or inner is app:
            break
        app = inner
    return None, []


def _is_auth_middleware(value: Any) -> bool:
    module = sys.modules.get("bare.middleware.authentication")
    return module is not None and isinstance(value, module.AuthenticationMiddleware)


def _app_backends(app: Any) -> list[Any]:
    """The authentication backends of the middleware added to a `Bare` app."""
    if not _is_bare(app):
        return []
    module = sys.modules.get("bare.middleware.authentication")
    if module is None:
        return []
    found: list[Any] = []
    for cls, options in app._middleware:
        if isinstance(cls, type) and issubclass(cls, module.AuthenticationMiddleware):
            backend = options.get("backend")
            found.extend(backend if isinstance(backend, (list, tuple)) else [backend])
    return found


def _owners(app: Any, depth: int = 0) -> Iterator[tuple[Any, int]]:
    """`app` and the bare apps mounted in it, depth first."""
    from .routing import Mount

    yield app, depth
    if depth >= 32:
        return
    for route in app.routes:
        if isinstance(route, Mount):
            inner, _ = _unwrap(route.app)
            if inner is not None and inner is not app:
                yield from _owners(inner, depth + 1)


def _operations(
    app: Any, prefix: str = "", backends: tuple[Any, ...] = (), depth: int = 0
) -> Iterator[tuple[str, Any, Route, tuple[Any, ...]]]:
    """Every documented HTTP route: `(mount prefix, the app whose exception handlers
    answer it, route, the authentication backends in front of it)`."""
    from .routing import Mount, Route

    backends = (*backends, *_app_backends(app))
    for route in app.routes:
        if isinstance(route, Route):
            if route.options.include_in_schema:
                yield prefix, app, route, backends
        elif isinstance(route, Mount) and depth < 32:
            inner, wrapped = _unwrap(route.app)
            if inner is not None and inner is not app:
                yield from _operations(inner, prefix + route.path, (*backends, *wrapped), depth + 1)


_PARAM = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")


def _openapi_path(template: str) -> str:
    """`/users/{id:int}` as OpenAPI writes it: `/users/{id}`."""
    return _PARAM.sub(r"{\1}", template)


# -- operations ------------------------------------------------------------------------------


class _Builder:
    def __init__(self, explicit_ids: set[str]) -> None:
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas = Schemas()
        self.security_schemes: dict[str, Any] = {}
        self._scheme_names: dict[int, str] = {}
        # The ids routes were given, which generated ones keep clear of, and those used.
        self._explicit_ids = explicit_ids
        self._operation_ids: set[str] = set()
        self._numbers: dict[str, int] = {}

    def add_route(self, prefix: str, owner: Any, route: Route, backends: tuple[Any, ...]) -> None:
        """Add the operations of `route`, served under the mount prefix `prefix` (a
        route pattern: `/orgs/{org:int}`)."""
        template = prefix + route.path
        path = _openapi_path(template)
        # `route.methods` are those the route was given: the HEAD that GET answers and
        # the automatic OPTIONS are not among them.
        methods = route.methods
        item = self.paths.setdefault(path, {})
        for method in methods:
            key = method.lower()
            if key in item:
                continue  # the first route registered for it answers
            item[key] = self._operation(template, owner, route, method, len(methods) > 1, backends)

    def _operation(
        self,
        template: str,
        owner: Any,
        route: Route,
        method: str,
        several: bool,
        backends: tuple[Any, ...],
    ) -> dict[str, Any]:
        options = route.options
        plan = getattr(route, "plan", None)
        operation: dict[str, Any] = {}
        if options.tags:
            operation["tags"] = list(options.tags)
        summary, description = _texts(route)
        if summary:
            operation["summary"] = summary
        if description:
            operation["description"] = description
        operation["operationId"] = self._operation_id(route, method, several)
        parameters = self._parameters(template, plan)
        if parameters:
            operation["parameters"] = parameters
        body = plan.body if plan is not None else None
        if body is not None:
            operation["requestBody"] = self._request_body(body)
        operation["responses"] = self._responses(owner, route, plan, bool(parameters))
        if options.deprecated:
            operation["deprecated"] = True
        if options.requires is not None:
            security = self._security(backends, options.requires)
            if security:
                operation["security"] = security
        return operation

    def _operation_id(self, route: Route, method: str, several: bool) -> str:
        """The id given (`operation_id=`; one route, so one method, may have it), else
        one made of the route's name (and the method, for a route with several), with
        a number added if another operation has it."""
        given = route.options.operation_id
        if given is not None and given not in self._operation_ids:
            self._operation_ids.add(given)
            return given
        base = re.sub(r"[^A-Za-z0-9_]+", "_", given or route.name).strip("_") or "operation"
        if several or given is not None:
            base += "_" + method.lower()
        # Numbered on from the last number this base was given: linear in the routes
        # even when many share a name.
        number = self._numbers.get(base, 1)
        candidate = base if number == 1 else f"{base}_{number}"
        while candidate in self._operation_ids or candidate in self._explicit_ids:
            number += 1
            candidate = f"{base}_{number}"
        self._numbers[base] = number
        self._operation_ids.add(candidate)
        return candidate

    # -- parameters -------------------------------------------------------------------

    def _parameters(self, template: str, plan: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for param in plan.all_parameters if plan is not None else ():
            marker = param.marker
            if marker is not None and not marker.include_in_schema:
                seen.add((param.location, param.alias))
                continue
            if (param.location, param.alias) in seen:
                continue
            seen.add((param.location, param.alias))
            found.append(self._parameter(param))
        # Path parameters the handler does not take (plain handlers, a mount's prefix)
        # are documented from their converters: OpenAPI wants every one declared.
        for name, converter in _path_converters(template):
            if ("path", name) not in seen:
                seen.add(("path", name))
                found.append(
                    {
                        "name": name,
                        "in": "path",
                        "required": True,
                        "schema": dict(_CONVERTER_SCHEMAS.get(converter, {"type": "string"})),
                    }
                )
        return found

    def _parameter(self, param: Any) -> dict[str, Any]:
        marker = param.marker
        schema = self.schemas.schema(param.annotation)
        entry: dict[str, Any] = {
            "name": param.alias,
            "in": param.location,
            "required": bool(param.required) or param.location == "path",
        }
        if marker is not None:
            if marker.title:
                schema["title"] = marker.title
            if marker.examples:
                schema["examples"] = _plain_values(marker.examples)
            if marker.description:
                entry["description"] = marker.description
            if marker.deprecated:
                entry["deprecated"] = True
        if not param.required:
            default = _plain_value(param.default)
            if default is not _UNSET:
                schema["default"] = default
        entry["schema"] = schema
        return entry

    # -- bodies -----------------------------------------------------------------------

    def _request_body(self, body: Any) -> dict[str, Any]:
        media_type = body.media_type
        marker = body.marker
        if body.fields:
            schema = self._form_schema(body.fields)
        elif media_type == "application/octet-stream" or body.annotation is bytes:
            schema = dict(BINARY, contentMediaType=media_type)
        elif body.annotation is str:
            schema = {"type": "string"}
        else:
            schema = self.schemas.schema(body.annotation)
        if marker is not None and getattr(marker, "examples", None):
            schema["examples"] = _plain_values(marker.examples)
        request_body: dict[str, Any] = {
            "content": {media_type: {"schema": schema}},
            "required": bool(body.required),
        }
        if marker is not None and getattr(marker, "description", None):
            request_body["description"] = marker.description
        return request_body

    def _form_schema(self, fields: Any) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in fields:
            marker = field.marker
            if marker is not None and not marker.include_in_schema:
                continue
            if field.is_file:
                schema: dict[str, Any] = dict(BINARY)
                if field.is_list:
                    schema = {"type": "array", "items": schema}
            else:
                schema = self.schemas.schema(field.annotation)
            if marker is not None and marker.description:
                schema["description"] = marker.description
            if not field.required:
                default = _plain_value(field.default)
                if default is not _UNSET and not field.is_file:
                    schema["default"] = default
            else:
                required.append(field.alias)
            properties[field.alias] = schema
        form: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            form["required"] = required
        return form

    # -- responses ----------------------------------------------------------------------

    def _responses(
        self, owner: Any, route: Route, plan: Any, has_parameters: bool
    ) -> dict[str, Any]:
        options = route.options
        status = plan.status_code if plan is not None else options.status_code or 200
        success: dict[str, Any] = {"description": _phrase(status)}
        model = plan.response_model if plan is not None else None
        if model is not None and status not in _NO_BODY_STATUSES:
            media_type = _media_type(options.response_class)
            success["content"] = {
                media_type: {"schema": self.schemas.schema(model, serialization=True)}
            }
        elif plan is not None and status not in _NO_BODY_STATUSES:
            content = self._returned(route, options.response_class)
            if content:
                success["content"] = content
        responses: dict[str, Any] = {str(status): success}
        body = plan.body if plan is not None else None
        if body is not None:
            for code, description in _body_errors(body, route.settings.max_body_size):
                responses[code] = self._error(description)
        if options.requires is not None:
            # The authentication backends answer malformed credentials with a 400.
            body_400 = responses.get("400")
            responses["400"] = self._error(
                "Malformed credentials"
                if body_400 is None
                else f"{body_400['description']}, or malformed credentials"
            )
            responses["401"] = self._error("Not authenticated")
            responses["403"] = self._error("Not allowed")
        if plan is not None and (has_parameters or (body is not None and _validated(body))):
            responses["422"] = self._validation_error(owner)
        for key, spec in (options.responses or {}).items():
            responses[str(key)] = self._declared(key, spec, responses.get(str(key)))
        return dict(sorted(responses.items(), key=lambda item: _status_order(item[0])))

    def _returned(self, route: Route, response_class: Any) -> dict[str, Any]:
        """The content of a typed handler's success without a response model: what its
        return annotation says, sent as plain handlers' results are (str as text,
        bytes as binary, anything else as JSON)."""
        if response_class is not None:
            media_type = _media_type(response_class)
            return {} if media_type == "application/json" else {media_type: {}}
        annotation = _return_model(route.endpoint)
        if annotation is None:
            return {}
        if annotation is str:
            return {"text/plain": {"schema": {"type": "string"}}}
        if annotation is bytes:
            return {"application/octet-stream": {"schema": dict(BINARY)}}
        return {"application/json": {"schema": self.schemas.schema(annotation, serialization=True)}}

    def _error(self, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": self.schemas.builtin("HTTPError")}},
        }

    def _validation_error(self, owner: Any) -> dict[str, Any]:
        response: dict[str, Any] = {"description": "Validation Error"}
        handler = _validation_handler(owner)
        if handler is None:
            schema = self.schemas.builtin("HTTPValidationError")
        else:
            model = _return_model(handler)
            schema = {} if model is None else self.schemas.schema(model, serialization=True)
        response["content"] = {"application/json": {"schema": schema}}
        return response

    def _declared(
        self, key: int | str, spec: Mapping[str, Any], found: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A response given in `responses=`: its `model` becomes JSON content; what it
        leaves out comes from the response bare documents for that status, if any."""
        response = dict(found or {})
        for name, value in spec.items():
            if name != "model":
                response[name] = value
        model = spec.get("model")
        if model is not None:
            schema = self.schemas.schema(model, serialization=True)
            content = dict(response.get("content") or {})
            content["application/json"] = {"schema": schema}
            response["content"] = content
        if not response.get("description"):
            response["description"] = _phrase(key) if isinstance(key, int) else "Default response"
        return response

    # -- security -----------------------------------------------------------------------

    def _security(self, backends: tuple[Any, ...], scopes: tuple[str, ...]) -> list[Any]:
        """The operation's `security`: any one of the backends' schemes, with the scopes
        the route requires."""
        requirements: list[Any] = []
        for backend in backends:
            name = self._scheme(backend)
            if name is not None:
                requirement = {name: list(scopes)}
                if requirement not in requirements:
                    requirements.append(requirement)
        return requirements

    def _scheme(self, backend: Any) -> str | None:
        known = self._scheme_names.get(id(backend))
        if known is not None:
            return known
        scheme = security_scheme(backend)
        if scheme is None:
            return None
        base = type(backend).__name__
        name, number = base, 1
        while name in self.security_schemes and self.security_schemes[name] != scheme:
            number += 1
            name = f"{base}{number}"
        self.security_schemes[name] = scheme
        self._scheme_names[id(backend)] = name
        return name


def security_scheme(backend: Any) -> dict[str, Any] | None:
    """The OpenAPI Security Scheme of an authentication backend, or None: Basic and
    Bearer are HTTP schemes, API keys name their place; any other backend may declare
    its own as a `security_scheme` attribute (a dict)."""
    from .authentication import APIKeyAuth, BasicAuth, BearerAuth

    declared = getattr(backend, "security_scheme", None)
    if isinstance(declared, Mapping):
        return dict(declared)
    if isinstance(backend, BasicAuth):
        return {"type": "http", "scheme": "basic"}
    if isinstance(backend, BearerAuth):
        return {"type": "http", "scheme": "bearer"}
    if isinstance(backend, APIKeyAuth):
        return {"type": "apiKey", "in": backend.source, "name": backend.name}
    return None


# -- helpers -----------------------------------------------------------------------------------


def _texts(route: Route) -> tuple[str | None, str | None]:
    """The summary and description: the options' first, else the docstring's first line
    and the rest; with neither, the summary is made from the route's name."""
    options = route.options
    doc = inspect.getdoc(route.endpoint) or ""
    if options.summary is not None:
        return options.summary, options.description or doc or None
    first, _, rest = doc.partition("\n")
    summary = first.strip() or route.name.replace("_", " ").strip().capitalize() or None
    return summary, options.description or rest.strip() or None


def _path_converters(template: str) -> list[tuple[str, str]]:
    """`(name, converter name)` of every parameter of a route pattern, mount prefixes
    included: `/orgs/{org:int}/{name}` has `("org", "int")` and `("name", "str")`."""
    return [(name, converter or "str") for name, converter in _PARAM.findall(template)]


_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _body_errors(body: Any, limit: int | None) -> list[tuple[str, str]]:
    """The 400, 413 and 415 responses reading this body can give (`bare._injection`)."""
    if body.fields or body.media_type in _FORMS:
        return [
            ("400", "The form is malformed"),
            ("413", "The body or a part of the form is larger than its limit"),
            ("415", f"The Content-Type is not {' or '.join(_FORMS)}"),
        ]
    too_large = [] if limit is None else [("413", f"The body is larger than {limit} bytes")]
    if body.name is not None and body.annotation is bytes:
        return too_large
    if body.name is not None and body.annotation is str:
        return [("400", "The body is not valid UTF-8"), *too_large]
    return [
        ("400", "The body is not valid JSON"),
        *too_large,
        ("415", f"The Content-Type is not {body.media_type}"),
    ]


def _validated(body: Any) -> bool:
    """Whether reading the body can fail validation: JSON and forms can, raw bytes and
    text cannot."""
    return not (body.name is not None and body.annotation in (bytes, str) and not body.fields)


def _media_type(response_class: Any) -> str:
    if response_class is None:
        return "application/json"
    content_type = getattr(response_class, "content_type", None) or "application/json"
    return str(content_type).partition(";")[0].strip()


def _status_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (10**3, key)


def _validation_handler(owner: Any) -> Callable[..., Any] | None:
    """The handler the app answers a `RequestValidationError` with, if it set one (by
    status, by that class or one of its bases, as `Bare.exception_handler_for` finds it)."""
    if not _is_bare(owner) or not owner.exception_handlers:
        return None
    from .exceptions import RequestValidationError

    handler: Callable[..., Any] | None = owner.exception_handler_for(RequestValidationError([]))
    return handler


def _return_model(handler: Callable[..., Any]) -> Any:
    """The model a handler's return annotation names, or None (no annotation, or a
    response class: bare cannot know what its body looks like)."""
    try:
        hints = type_hints(handler)
    except Exception:  # an annotation that does not resolve: nothing to go on
        return None
    annotation = hints.get("return")
    if annotation is None or annotation is type(None):
        return None
    from .responses import Response

    if is_class(annotation) and issubclass(annotation, Response):
        return None
    if annotation in (Any, object):
        return None
    return annotation


_UNSET: Any = object()


def _plain_value(value: Any) -> Any:
    """`value` as JSON would carry it (enums by value, dates as text), or `_UNSET`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        import msgspec
    except ImportError:
        return _UNSET
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError):
        return _UNSET


def _plain_values(values: list[Any]) -> list[Any]:
    plain = [_plain_value(value) for value in values]
    return [value for value in plain if value is not _UNSET]
