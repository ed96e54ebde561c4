"""Typed handlers: path, query, header and cookie parameters, their markers, types,
constraints, lists, defaults and aliases; the 422 they give, and the handlers refused
at registration. Hostile values included."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
import pytest

from bare import (
    Bare,
    Cookie,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    RequestValidationError,
    Route,
    Router,
)
from bare.routing import RouteError
from bare.testing import TestClient


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _client(register: Callable[[Bare], Any]) -> TestClient:
    app = Bare()
    register(app)
    return TestClient(app)


def _detail(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


# -- path parameters --------------------------------------------------------------------


def test_path_parameters_take_the_converters_type_or_the_annotations() -> None:
    def register(app: Bare) -> None:
        @app.get("/a/{item_id:int}/{name}")
        async def both(item_id: int, name: str) -> Any:
            return [item_id, type(item_id).__name__, name]

        @app.get("/b/{item_id}")
        async def annotated(item_id: int) -> Any:
            return [item_id, type(item_id).__name__]

        @app.get("/c/{ratio:float}/{key:uuid}")
        async def unannotated(ratio, key) -> Any:  # type: ignore[no-untyped-def]
            return [type(ratio).__name__, type(key).__name__]

    client = _client(register)
    assert client.get("/a/7/bob").json() == [7, "int", "bob"]
    assert client.get("/b/42").json() == [42, "int"]
    assert client.get(f"/c/1.5/{uuid.uuid4()}").json() == ["float", "UUID"]
    # `{item_id}` matches any segment; the annotation decides: a 422, not a 404.
    assert _detail(client.get("/b/abc")) == [
        {
            "loc": ["path", "item_id"],
            "msg": "Expected `int`, got `str`",
            "type": "type_error",
            "input": "abc",
        }
    ]


def test_path_constraints_apply_to_converted_values() -> None:
    def register(app: Bare) -> None:
        @app.get("/items/{item_id:int}")
        async def item(item_id: Annotated[int, Path(ge=1, le=1000, description="The item")]) -> Any:
            return item_id

    client = _client(register)
    assert client.get("/items/5").json() == 5
    assert _detail(client.get("/items/0"))[0]["msg"] == "Expected `int` >= 1"
    assert _detail(client.get("/items/1001"))[0]["loc"] == ["path", "item_id"]


def test_a_path_alias_names_the_pattern_parameter() -> None:
    def register(app: Bare) -> None:
        @app.get("/users/{user-id}")
        async def user(user_id: str = Path(alias="user-id")) -> Any:
            return user_id

    with pytest.raises(RouteError):
        _client(register)  # `{user-id}` is not a valid parameter name: the router says so

    def register_ok(app: Bare) -> None:
        @app.get("/users/{uid}")
        async def user(user_id: str = Path(alias="uid")) -> Any:
            return user_id

    assert _client(register_ok).get("/users/ada").text == "ada"


# -- query parameters --------------------------------------------------------------------


def test_query_scalars_defaults_and_optionals() -> None:
    def register(app: Bare) -> None:
        @app.get("/search")
        async def search(
            q: str,
            limit: int = 10,
            ratio: float = 0.5,
            exact: bool = False,
            since: datetime.date | None = None,
            color: Color = Color.RED,
            mode: Literal["fast", "slow"] = "fast",
            key: uuid.UUID | None = None,
        ) -> Any:
            return {
                "q": q,
                "limit": limit,
                "ratio": ratio,
                "exact": exact,
                "since": since.isoformat() if since else None,
                "color": color.value,
                "mode": mode,
                "key": str(key) if key else None,
            }

    client = _client(register)
    assert client.get("/search?q=x").json() == {
        "q": "x",
        "limit": 10,
        "ratio": 0.5,
        "exact": False,
        "since": None,
        "color": "red",
        "mode": "fast",
        "key": None,
    }
    key = uuid.uuid4()
    reply = client.get(
        "/search",
        params={
            "q": "caf\u00e9",
            "limit": "3",
            "ratio": "2.5",
            "exact": "true",
            "since": "2024-02-29",
            "color": "blue",
            "mode": "slow",
            "key": str(key),
        },
    )
    assert reply.json() == {
        "q": "caf\u00e9",
        "limit": 3,
        "ratio": 2.5,
        "exact": True,
        "since": "2024-02-29",
        "color": "blue",
        "mode": "slow",
        "key": str(key),
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
    ids=["one", "true", "title", "yes", "on", "zero", "false", "no", "off"],
)
def test_booleans_take_the_usual_spellings(raw: str, value: bool) -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def flag(on: bool) -> Any:
            return on

    assert _client(register).get(f"/?on={raw}").json() is value


def test_query_lists_read_every_value() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def tags(
            tag: list[str] = Query([]),
            n: Annotated[list[int], Query(max_length=3)] = [],  # noqa: B006
            flags: list[bool] | None = None,
        ) -> Any:
            return [tag, n, flags]

    client = _client(register)
    assert client.get("/").json() == [[], [], None]
    assert client.get("/?tag=a&tag=b&n=1&n=2&flags=yes&flags=0").json() == [
        ["a", "b"],
        [1, 2],
        [True, False],
    ]
    detail = _detail(client.get("/?n=1&n=x&n=3"))
    assert detail == [
        {"loc": ["query", "n", 1], "msg": "Expected `int`, got `str`", "type": "type_error"}
    ]
    assert _detail(client.get("/?n=1&n=2&n=3&n=4"))[0]["msg"] == ("Expected `array` of length <= 3")


def test_a_list_default_is_not_shared_between_requests() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def grow(tag: Annotated[list[str], Query()] = []) -> Any:  # noqa: B006
            tag.append("x")
            return tag

    client = _client(register)
    assert client.get("/").json() == ["x"]
    assert client.get("/").json() == ["x"]


def test_constraints_on_query_values() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def constrained(
            limit: int = Query(10, ge=1, le=100),
            step: float = Query(1.0, gt=0, lt=10, multiple_of=0.5),
            name: str = Query("x", min_length=1, max_length=5, pattern="^[a-z]+$"),
        ) -> Any:
            return [limit, step, name]

    client = _client(register)
    assert client.get("/?limit=100&step=2.5&name=abc").json() == [100, 2.5, "abc"]
    detail = _detail(client.get("/?limit=101&step=0.3&name=ABCDEFG"))
    assert [(d["loc"][1], d["type"]) for d in detail] == [
        ("limit", "constraint"),
        ("step", "constraint"),
        ("name", "constraint"),
    ]
    assert detail[0]["msg"] == "Expected `int` <= 100"


def test_every_error_is_listed_with_its_location() -> None:
    def register(app: Bare) -> None:
        @app.get("/items/{item_id}")
        async def item(
            item_id: int,
            q: int,
            x_token: str = Header(),
            session: str = Cookie(),
        ) -> Any:
            return "unreachable"

    detail = _detail(_client(register).get("/items/x?q=y"))
    assert detail == [
        {
            "loc": ["path", "item_id"],
            "msg": "Expected `int`, got `str`",
            "type": "type_error",
            "input": "x",
        },
        {
            "loc": ["query", "q"],
            "msg": "Expected `int`, got `str`",
            "type": "type_error",
            "input": "y",
        },
        {"loc": ["header", "x-token"], "msg": "Field required", "type": "missing"},
        {"loc": ["cookie", "session"], "msg": "Field required", "type": "missing"},
    ]


def test_query_aliases_and_unannotated_parameters() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def aliased(item_query: str = Query(alias="item-query"), plain="d") -> Any:  # type: ignore[no-untyped-def]
            return [item_query, plain]

    client = _client(register)
    assert client.get("/?item-query=a&plain=b").json() == ["a", "b"]
    assert _detail(client.get("/?item_query=a")) == [
        {"loc": ["query", "item-query"], "msg": "Field required", "type": "missing"}
    ]


def test_annotated_markers_take_the_default_after_the_annotation() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def annotated(
            limit: Annotated[int, Query(ge=1)] = 5,
            token: Annotated[str | None, Header(alias="X-Token")] = None,
        ) -> Any:
            return [limit, token]

    client = _client(register)
    assert client.get("/").json() == [5, None]
    assert client.get("/?limit=2", headers={"x-token": "t"}).json() == [2, "t"]


def test_constraints_on_an_optional_apply_to_the_value() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def optional(
            q: Annotated[str | None, Query(max_length=3)] = None, n: int | None = Query(None, ge=1)
        ) -> Any:
            return [q, n]

    client = _client(register)
    assert client.get("/").json() == [None, None]
    assert client.get("/?q=abc&n=2").json() == ["abc", 2]
    detail = _detail(client.get("/?q=abcd&n=0"))
    assert [d["loc"][1] for d in detail] == ["q", "n"]


def test_msgspec_meta_in_annotated_is_enforced() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def meta(n: Annotated[int, msgspec.Meta(ge=3)] = 3) -> Any:
            return n

    client = _client(register)
    assert client.get("/?n=4").json() == 4
    assert _detail(client.get("/?n=2"))[0]["msg"] == "Expected `int` >= 3"


# -- headers and cookies -------------------------------------------------------------------


def test_headers_convert_underscores_unless_told_not_to() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def headers(
            x_api_key: str = Header(),
            user_agent: str | None = Header(None),
            x_raw_name: str = Header("none", convert_underscores=False),
            x_tag: list[str] = Header([]),
            x_count: int = Header(0),
        ) -> Any:
            return [x_api_key, user_agent, x_raw_name, x_tag, x_count]

    client = _client(register)
    reply = client.get(
        "/",
        headers=[
            ("X-API-Key", "secret"),
            ("x_raw_name", "kept"),
            ("x-tag", "a"),
            ("x-tag", "b"),
            ("x-count", "3"),
        ],
    )
    assert reply.json()[0] == "secret"
    assert reply.json()[2:] == ["kept", ["a", "b"], 3]
    assert _detail(client.get("/", headers={"x_api_key": "underscored"}))[0]["loc"] == [
        "header",
        "x-api-key",
    ]


def test_cookies_by_name_and_alias() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def cookies(
            session: str = Cookie(), theme: str = Cookie("light", alias="ui-theme")
        ) -> Any:
            return [session, theme]

    client = _client(register)
    assert client.get("/", cookies={"session": "abc"}).json() == ["abc", "light"]
    assert client.get("/", cookies={"session": "abc", "ui-theme": "dark"}).json() == ["abc", "dark"]


# -- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "loc", "kind"),
    [
        ("n=" + "9" * 5000, ["query", "n"], "out_of_range"),
        ("n=-" + "9" * 5000, ["query", "n"], "out_of_range"),
        ("n=1.5", ["query", "n"], "type_error"),
        ("n=%EF%BC%91", ["query", "n"], "type_error"),  # a fullwidth digit
        ("bounded=nan", ["query", "bounded"], "constraint"),
        ("bounded=inf", ["query", "bounded"], "constraint"),
        ("bounded=-inf", ["query", "bounded"], "constraint"),
        ("n=%ff%fe", ["query", "n"], "type_error"),  # not UTF-8
    ],
    ids=["huge", "huge_negative", "fraction", "fullwidth", "nan", "inf", "minus_inf", "latin1"],
)
def test_hostile_numbers_are_422s(query: str, loc: list[str], kind: str) -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def numbers(n: int = 0, bounded: float = Query(0, ge=0, le=100)) -> Any:
            return [n, bounded]

    detail = _detail(_client(register).get(f"/?{query}"))
    assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]
    # A long value is never echoed back.
    assert "9" * 100 not in str(detail)


def test_big_ints_are_python_ints_unless_bounded() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def number(n: int, small: int = Query(0, le=10**9)) -> Any:
            return str(n)

    client = _client(register)
    assert client.get("/?n=" + "9" * 30).text == "9" * 30
    assert _detail(client.get("/?n=1&small=" + "9" * 30))[0]["msg"] == (
        "Expected `int` <= 1000000000"
    )


def test_nan_is_accepted_where_no_bound_forbids_it() -> None:
    # As pydantic: a float without bounds takes nan and inf; a bound refuses them.
    def register(app: Bare) -> None:
        @app.get("/")
        async def number(x: float) -> Any:
            return str(x)

    client = _client(register)
    assert client.get("/?x=nan").text == "nan"
    assert client.get("/?x=-inf").text == "-inf"


def test_a_repeated_scalar_takes_the_first_value() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def first(role: str, n: int) -> Any:
            return [role, n]

    assert _client(register).get("/?role=user&role=admin&n=1&n=x").json() == ["user", 1]


def test_a_non_utf8_query_value_is_text_with_replacement_characters() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def text(q: str) -> Any:
            return q

    assert _client(register).get("/?q=%ff%41").text == "\ufffdA"


def test_echoed_values_cannot_inject_headers() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def number(n: int) -> Any:
            return n

    reply = _client(register).get("/?n=1%0d%0aSet-Cookie:%20evil=1")
    detail = _detail(reply)
    assert detail[0]["input"] == "1\r\nSet-Cookie: evil=1"  # in the JSON body, escaped
    assert b"\r\nSet-Cookie" not in reply.content
    assert "set-cookie" not in {name.lower() for name, _ in reply.headers.items()}


def test_long_and_structured_inputs_are_not_echoed() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def choice(color: Color, name: str = Query("", max_length=3)) -> Any:
            return color.value

    detail = _detail(_client(register).get("/?color=" + "x" * 500 + "&name=" + "y" * 500))
    assert "input" not in detail[0] and "input" not in detail[1]
    assert all(len(d["msg"]) <= 120 for d in detail)
    assert "x" * 100 not in str(detail)


def test_too_many_query_items_is_a_400_not_a_422() -> None:
    def register(app: Bare) -> None:
        @app.get("/")
        async def one(a: int = 0) -> Any:
            return a

    reply = _client(register).get("/?" + "&".join(f"k{i}=1" for i in range(1001)))
    assert reply.status_code == 400
    assert "limit 1000" in reply.json()["detail"]


def test_the_422_goes_through_the_apps_exception_handlers() -> None:
    app = Bare()

    @app.get("/")
    async def number(n: int) -> Any:
        return n

    @app.exception_handler(RequestValidationError)
    async def flat(request: Request, exc: RequestValidationError) -> Any:
        fields = [".".join(map(str, e["loc"])) for e in exc.errors()]
        return {"invalid": fields, "count": len(exc.errors)}

    reply = TestClient(app).get("/?n=x")
    assert (reply.status_code, reply.json()) == (422, {"invalid": ["query.n"], "count": 1})


def test_validation_errors_are_http_exceptions_of_status_422() -> None:
    exc = RequestValidationError([{"loc": ["query", "a"], "msg": "m", "type": "t"}])
    assert isinstance(exc, HTTPException)
    assert (exc.status, exc.status_code) == (422, 422)
    assert exc.errors() == exc.detail == [{"loc": ["query", "a"], "msg": "m", "type": "t"}]
    assert "query" in repr(exc)


# -- registration -------------------------------------------------------------------------


class Opaque:
    """A type bare cannot read from a request."""


@pytest.mark.parametrize(
    ("path", "methods", "handler", "message"),
    [
        (
            "/{item_id:int}",
            ["GET"],
            lambda: _h_str_for_int,
            r"route '/\{item_id:int\}' \(GET\), handler _h_str_for_int, parameter 'item_id': "
            r"the pattern says \{item_id:int\} but it is annotated str; change one",
        ),
        (
            "/",
            ["GET"],
            lambda: _h_opaque,
            r"parameter 'thing': type Opaque is not supported; use a scalar",
        ),
        ("/", ["GET"], lambda: _h_body, r"parameter 'item': a body on GET \(type Payload\)"),
        ("/", ["GET", "HEAD"], lambda: _h_body, r"a body on GET/HEAD"),
        ("/", ["GET"], lambda: _h_unknown_path, r"the route has no path parameter 'nope'"),
        (
            "/{a}",
            ["GET"],
            lambda: _h_path_default,
            r"parameter 'a': a path parameter always has a value",
        ),
        (
            "/",
            ["GET"],
            lambda: _h_args,
            r"parameter 'rest': \*args and \*\*kwargs cannot be filled",
        ),
        ("/", ["GET"], lambda: _h_two_markers, r"parameter 'n': a marker in Annotated and another"),
        (
            "/",
            ["GET"],
            lambda: _h_default_in_annotated,
            r"write it after the annotation: n: Annotated",
        ),
        (
            "/",
            ["GET"],
            lambda: _h_unannotated_request,
            r"parameter 'request': an unannotated 'request' would be a query parameter; "
            r"annotate it `request: Request`",
        ),
        (
            "/",
            ["GET"],
            lambda: _h_bad_header_type,
            r"parameter 'h': a header parameter of type Payload cannot be read",
        ),
        (
            "/",
            ["GET"],
            lambda: _h_bad_constraint,
            r"parameter 'flag': the constraints do not fit type bool",
        ),
        ("/", ["GET"], lambda: _h_unresolvable, r"its annotations cannot be resolved \(NameError"),
    ],
    ids=[
        "converter_mismatch",
        "unsupported_type",
        "body_on_get",
        "body_on_get_head",
        "unknown_path_name",
        "path_default",
        "var_args",
        "two_markers",
        "default_in_annotated",
        "unannotated_request",
        "model_header",
        "length_on_bool",
        "unresolvable",
    ],
)
def test_handlers_that_cannot_be_served_are_refused_at_registration(
    path: str, methods: list[str], handler: Callable[[], Any], message: str
) -> None:
    app = Bare()
    with pytest.raises(TypeError, match=message):
        app.add_route(path, handler(), methods)


class Payload(msgspec.Struct):
    name: str


async def _h_str_for_int(item_id: str) -> None: ...
async def _h_opaque(thing: Opaque) -> None: ...
async def _h_body(item: Payload) -> None: ...
async def _h_unknown_path(nope: int = Path()) -> None: ...
async def _h_path_default(a: str = "x") -> None: ...
async def _h_args(*rest: str) -> None: ...
async def _h_two_markers(n: Annotated[int, Query()] = Query(1)) -> None: ...
async def _h_default_in_annotated(n: Annotated[int, Query(3)]) -> None: ...
async def _h_unannotated_request(request, q: int) -> None: ...  # type: ignore[no-untyped-def]
async def _h_bad_header_type(h: Payload = Header()) -> None: ...
async def _h_bad_constraint(flag: bool = Query(False, max_length=3)) -> None: ...
async def _h_unresolvable(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_a_registration_error_is_a_type_error_named_for_users() -> None:
    from bare.routing import RegistrationError

    assert issubclass(RegistrationError, TypeError)
    assert RegistrationError.__module__ == "bare.routing"


def test_markers_check_their_arguments() -> None:
    with pytest.raises(ValueError, match=r"Query\(pattern='\['\) is not a regex"):
        Query(pattern="[")
    with pytest.raises(ValueError, match=r"min_length=\.\.\.\) takes an int >= 0"):
        Query(min_length=-1)
    with pytest.raises(TypeError, match=r"ge=\.\.\.\) takes a number"):
        Query(ge="1")
    with pytest.raises(TypeError, match=r"alias=\.\.\.\) takes a non-empty string"):
        Header(alias="")
    with pytest.raises(TypeError, match=r"examples=\.\.\.\) takes a list"):
        Query(examples="x")
    assert repr(Query(3, ge=1, alias="n")) == "QueryParam(3, alias='n', ge=1)"


# -- plain handlers stay plain --------------------------------------------------------------


def test_a_plain_handler_is_served_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    import bare.routing

    given: list[Any] = []
    original = bare.routing.http_endpoint

    def spy(endpoint: Any, settings: Any) -> Any:
        given.append(endpoint)
        return original(endpoint, settings)

    monkeypatch.setattr(bare.routing, "http_endpoint", spy)

    async def plain(request: Request) -> str:
        return "plain"

    def sync_plain(req):  # type: ignore[no-untyped-def]
        return "sync"

    async def any_plain(request: Any) -> str:
        return "any"

    for handler in (plain, sync_plain, any_plain):
        route = Route("/", handler)
        assert route.plan is None
        assert given[-1] is handler
    assert TestClient(Route("/", plain)).get("/").text == "plain"


def test_a_handler_typed_by_an_option_alone_is_compiled() -> None:
    async def plain(request: Request) -> str:
        return "created"

    route = Route("/", plain, methods=["POST"], status_code=201)
    assert route.plan is not None and route.plan.status_code == 201
    assert route.plan.injected == (("request", "request"),)
    reply = TestClient(route).post("/")
    assert (reply.status_code, reply.text) == (201, "created")
    # Documentation options never make a handler typed.
    documented = Route(
        "/", plain, tags=["a"], summary="s", deprecated=True, responses={404: {"description": "x"}}
    )
    assert documented.plan is None


def test_an_unannotated_single_parameter_named_like_a_path_parameter_is_that_parameter() -> None:
    def register(app: Bare) -> None:
        @app.get("/users/{name}")
        async def user(name):  # type: ignore[no-untyped-def]
            return name

    assert _client(register).get("/users/ada").text == "ada"


def test_a_prefix_without_parameters_reuses_the_plan() -> None:
    router = Router()

    @router.get("/items/{item_id:int}")
    async def item(item_id: int, q: str = "") -> Any:
        return [item_id, q]

    app = Bare()
    app.include_router(router, prefix="/v1")
    original = router.routes[0]
    copy = next(r for r in app.routes if getattr(r, "path", "") == "/v1/items/{item_id:int}")
    assert isinstance(original, Route) and isinstance(copy, Route)
    assert copy.plan is original.plan
    assert TestClient(app).get("/v1/items/3?q=a").json() == [3, "a"]


def test_a_prefix_with_parameters_reads_them_as_path_parameters() -> None:
    router = Router()

    @router.get("/items")
    async def items(org: str) -> Any:
        return org

    app = Bare()
    app.include_router(router, prefix="/orgs/{org}")
    assert TestClient(app).get("/orgs/acme/items").text == "acme"
    unprefixed = Bare()
    unprefixed.include_router(router)
    assert TestClient(unprefixed).get("/items?org=q").text == "q"  # a query parameter there


def test_sync_typed_handlers_run_in_the_thread_pool() -> None:
    import threading

    def register(app: Bare) -> None:
        @app.get("/")
        def blocking(n: int) -> Any:
            return [n, threading.current_thread() is threading.main_thread()]

    assert _client(register).get("/?n=2").json() == [2, False]


# -- what FastAPI users write ------------------------------------------------------------------


class Level(enum.IntEnum):
    low = 1
    high = 2


def test_fastapi_style_query_and_header_types() -> None:
    app = Bare()

    @app.get("/")
    async def search(
        required_optional: str | None,  # no default: required, as in FastAPI
        ids: list[Annotated[int, msgspec.Meta(ge=1)]] = Query([]),  # each item checked
        level: Level = Level.low,
        size: Literal[1, 2, 3] = 1,
        price: decimal.Decimal | None = None,
        window: datetime.timedelta | None = None,
        x_ids: list[int] = Header([]),
    ) -> Any:
        return {
            "q": required_optional,
            "ids": ids,
            "level": level,
            "size": size,
            "price": None if price is None else str(price),
            "window": None if window is None else window.total_seconds(),
            "x_ids": x_ids,
        }

    client = TestClient(app)
    assert client.get("/").json()["detail"] == [
        {"loc": ["query", "required_optional"], "msg": "Field required", "type": "missing"}
    ]
    reply = client.get(
        "/?required_optional=a&ids=1&ids=2&level=2&size=3&price=1.10&window=90",
        headers=[("x-ids", "4"), ("x-ids", "5")],
    )
    assert reply.json() == {
        "q": "a",
        "ids": [1, 2],
        "level": 2,
        "size": 3,
        "price": "1.10",
        "window": 90.0,
        "x_ids": [4, 5],
    }
    detail = client.get(
        "/?required_optional=a&ids=1&ids=0&level=3&size=4&price=abc", headers={"x-ids": "x"}
    ).json()["detail"]
    assert [(d["loc"], d["type"]) for d in detail] == [
        (["query", "ids", 1], "constraint"),
        (["query", "level"], "enum"),
        (["query", "size"], "enum"),
        (["query", "price"], "value_error"),
        (["header", "x-ids", 0], "type_error"),
    ]


def test_bounds_on_a_list_are_refused_with_the_way_to_bound_its_items() -> None:
    app = Bare()
    with pytest.raises(TypeError, match=r"parameter 'ids'.*list\[Annotated\[int, msgspec.Meta"):

        @app.get("/")
        async def search(ids: list[int] = Query([], ge=1)) -> Any: ...


def test_text_parameters_that_may_be_absent_are_taken_as_they_are() -> None:
    # No conversion step for `str | None` (a present value is a string already); the
    # others still convert.
    import typing

    import msgspec

    from bare._typeinfo import converter

    for annotation in (str, str | None, typing.Optional[str], list[str] | None):  # noqa: UP045
        assert converter(msgspec, annotation) is None, annotation
    for annotation in (int | None, str | int, bytes | None, bool | None):
        convert = converter(msgspec, annotation)
        assert convert is not None, annotation
    assert converter(msgspec, int | None)("7") == 7  # type: ignore[misc]
