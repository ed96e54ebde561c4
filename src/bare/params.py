"""What a typed handler's parameters are read from: `Query`, `Path`, `Header`, `Cookie`,
`Body`, `Form`, `File`, and `Depends` for dependencies.

    @app.get("/items/{item_id}")
    async def item(item_id: int, limit: int = Query(10, ge=1), x_token: str = Header()):
        ...

Each function returns a marker (an instance of the classes below), given as the
parameter's default or inside `typing.Annotated[int, Query(ge=1)]` (the default then
comes from `= value`). They return `Any` so that type checkers accept `limit: int =
Query(10)`. Nothing here reads a request: `bare._signature` reads the markers once, when
the route is registered. See docs/typed.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Body",
    "BodyParam",
    "Cookie",
    "CookieParam",
    "Dependency",
    "Depends",
    "File",
    "FileParam",
    "Form",
    "FormParam",
    "Header",
    "HeaderParam",
    "Marker",
    "Param",
    "Path",
    "PathParam",
    "Query",
    "QueryParam",
]


class _Required:
    """The default of a marker given none: the parameter is required."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# The constraint keywords, in the order `msgspec.Meta` takes them.
CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "pattern",
    "min_length",
    "max_length",
)


class FileOptions(TypedDict, total=False):
    """The keywords every marker takes besides its default (`File` takes these)."""

    alias: str | None
    title: str | None
    description: str | None
    examples: list[Any] | None
    deprecated: bool | None
    include_in_schema: bool
    min_length: int | None
    max_length: int | None


class MarkerOptions(FileOptions, total=False):
    """The keywords of `Query`, `Path`, `Header`, `Cookie`, `Body` and `Form` besides
    their own: documentation, the name on the wire, and constraints (msgspec's)."""

    gt: float | None
    ge: float | None
    lt: float | None
    le: float | None
    multiple_of: float | None
    pattern: str | None


class Marker:
    """What every marker says about a value: its default, its name on the wire, its
    documentation and its constraints (enforced by msgspec)."""

    __slots__ = (
        "alias",
        "default",
        "deprecated",
        "description",
        "examples",
        "ge",
        "gt",
        "include_in_schema",
        "le",
        "lt",
        "max_length",
        "min_length",
        "multiple_of",
        "pattern",
        "title",
    )

    kind: ClassVar[str] = "value"

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        multiple_of: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> None:
        name = type(self).__name__.removesuffix("Param")
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise TypeError(f"{name}(alias=...) takes a non-empty string, not {alias!r}")
        if examples is not None and not isinstance(examples, list):
            raise TypeError(f"{name}(examples=...) takes a list of examples, not {examples!r}")
        for key, bound in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, (int, float))
            ):
                raise TypeError(f"{name}({key}=...) takes a number, not {bound!r}")
        for key, length in (("min_length", min_length), ("max_length", max_length)):
            if length is not None and (type(length) is not int or length < 0):
                raise ValueError(f"{name}({key}=...) takes an int >= 0, not {length!r}")
        if pattern is not None:
            import re

            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise ValueError(f"{name}(pattern={pattern!r}) is not a regex: {exc}") from None
        self.default = default
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.gt = gt
        self.ge = ge
        self.lt = lt
        self.le = le
        self.multiple_of = multiple_of
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern

    @property
    def required(self) -> bool:
        """Whether the marker was given no default."""
        return self.default is REQUIRED

    def constraints(self) -> dict[str, Any]:
        """The constraints given, as `msgspec.Meta` keywords."""
        found = {key: getattr(self, key) for key in CONSTRAINTS}
        return {key: value for key, value in found.items() if value is not None}

    def __repr__(self) -> str:
        given = [] if self.default is REQUIRED else [repr(self.default)]
        for key in ("alias", *CONSTRAINTS):
            value = getattr(self, key)
            if value is not None:
                given.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(given)})"


class Param(Marker):
    """A value read from the request line or headers: `Query`, `Path`, `Header`, `Cookie`."""

    __slots__ = ()
    location: ClassVar[Literal["path", "query", "header", "cookie"]]


class QueryParam(Param):
    """A query string parameter (what `Query(...)` returns)."""

    __slots__ = ()
    location = "query"


class PathParam(Param):
    """A path parameter (what `Path(...)` returns)."""

    __slots__ = ()
    location = "path"


class HeaderParam(Param):
    """A request header (what `Header(...)` returns)."""

    __slots__ = ("convert_underscores",)
    location = "header"

    def __init__(self, default: Any = REQUIRED, *, convert_underscores: bool = True, **kw: Any):
        super().__init__(default, **kw)
        self.convert_underscores = convert_underscores


class CookieParam(Param):
    """A cookie (what `Cookie(...)` returns)."""

    __slots__ = ()
    location = "cookie"


class BodyParam(Marker):
    """The request body, or a field of it (what `Body(...)` returns)."""

    __slots__ = ("embed", "media_type")

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        embed: bool = False,
        media_type: str = "application/json",
        **kw: Any,
    ) -> None:
        super().__init__(default, **kw)
        if not isinstance(media_type, str) or "/" not in media_type:
            raise ValueError(
                f"media_type must be a media type such as 'text/plain', not {media_type!r}"
            )
        self.embed = embed
        self.media_type = media_type


class FormParam(BodyParam):
    """A field of a form body (what `Form(...)` returns)."""

    __slots__ = ()

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        media_type: str = "application/x-www-form-urlencoded",
        **kw: Any,
    ) -> None:
        super().__init__(default, media_type=media_type, **kw)


class FileParam(FormParam):
    """A file of a multipart form body (what `File(...)` returns)."""

    __slots__ = ()

    def __init__(
        self, default: Any = REQUIRED, *, media_type: str = "multipart/form-data", **kw: Any
    ) -> None:
        super().__init__(default, media_type=media_type, **kw)


DependencyScope = Literal["request", "function"]


class Dependency:
    """A dependency (what `Depends(...)` returns): `dependency` is called with the
    parameters it declares, and what it returns (or yields) is the parameter's value."""

    __slots__ = ("dependency", "scope", "use_cache")

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        use_cache: bool = True,
        scope: DependencyScope = "request",
    ) -> None:
        if dependency is not None and not callable(dependency):
            raise TypeError(f"Depends() takes a callable, not {dependency!r:.60}")
        if scope not in ("request", "function"):
            raise ValueError(f'Depends(scope=...) is "request" or "function", not {scope!r}')
        if type(use_cache) is not bool:
            raise TypeError(f"Depends(use_cache=...) is True or False, not {use_cache!r}")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope: DependencyScope = scope

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        extra = "" if self.use_cache else ", use_cache=False"
        extra += "" if self.scope == "request" else f", scope={self.scope!r}"
        return f"Depends({name}{extra})"


# The names FastAPI users know are functions, so that `x: int = Query()` type-checks.


def Query(default: Any = REQUIRED, **options: Unpack[MarkerOptions]) -> Any:
    """A query string parameter; `?tag=a&tag=b` fills a `list[str]` one."""
    return QueryParam(default, **options)


def Path(default: Any = REQUIRED, **options: Unpack[MarkerOptions]) -> Any:
    """A path parameter of the route (always required: a default is refused)."""
    return PathParam(default, **options)


def Header(
    default: Any = REQUIRED, *, convert_underscores: bool = True, **options: Unpack[MarkerOptions]
) -> Any:
    """A request header: `x_api_key` reads `x-api-key` (unless `convert_underscores=False`
    or an `alias` names it); a `list[str]` one reads every value of a repeated header."""
    return HeaderParam(default, convert_underscores=convert_underscores, **options)


def Cookie(default: Any = REQUIRED, **options: Unpack[MarkerOptions]) -> Any:
    """A cookie sent by the client."""
    return CookieParam(default, **options)


def Body(
    default: Any = REQUIRED,
    *,
    embed: bool = False,
    media_type: str = "application/json",
    **options: Unpack[MarkerOptions],
) -> Any:
    """The request body (JSON unless the type is `bytes` or `str`). With `embed=True`, or
    when several parameters are bodies, each is a field of one JSON object, by name."""
    return BodyParam(default, embed=embed, media_type=media_type, **options)


def Form(
    default: Any = REQUIRED,
    *,
    media_type: str = "application/x-www-form-urlencoded",
    **options: Unpack[MarkerOptions],
) -> Any:
    """A field of a form body (urlencoded or multipart; the route's form limits apply)."""
    return FormParam(default, media_type=media_type, **options)


def File(
    default: Any = REQUIRED,
    *,
    media_type: str = "multipart/form-data",
    **options: Unpack[FileOptions],
) -> Any:
    """A file of a multipart form: an `UploadFile`, `bytes`, or a list of either."""
    return FileParam(default, media_type=media_type, **options)


def Depends(
    dependency: Callable[..., Any] | None = None,
    *,
    use_cache: bool = True,
    scope: DependencyScope = "request",
) -> Any:
    """A dependency: the parameter's value is what `dependency` returns (or yields).

    `dependency` declares parameters as a handler does (sub-dependencies too); left
    out, the parameter's annotation is called. Within one request a dependency runs
    once and its value is shared, unless `use_cache=False`. A generator dependency's
    code after `yield` runs after the response has been sent in full
    (`scope="request"`) or before the response is sent (`scope="function"`, for a
    transaction that must commit first).
    """
    return Dependency(dependency, use_cache=use_cache, scope=scope)
