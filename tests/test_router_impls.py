"""Table-driven tests of the matcher rules, run on both implementations ([c] and [py])."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from bare.routing import FOUND, METHOD_NOT_ALLOWED, NOT_FOUND, REDIRECT, Router


def endpoint(request: Any) -> None:
    """A handler; routes are told apart by their names."""


def build(
    make_router: Callable[..., Router], routes: list[tuple[str, str, str]], **options: Any
) -> Router:
    router = make_router(**options)
    for method, path, name in routes:
        router.add_route(path, endpoint, [method], name=name)
    return router


def resolve(router: Router, method: str, path: str) -> tuple[int, Any, Any]:
    code, target, params = router.resolve(method, path)
    if code == FOUND:
        return code, target.name, params
    return code, target, params


PRECEDENCE = [
    ("GET", "/users/me", "literal"),
    ("GET", "/users/{user_id:int}", "typed"),
    ("GET", "/users/{name}", "str"),
    ("GET", "/users/{name}.{ext}", "mixed"),
    ("GET", "/users/{rest:path}", "path"),
]


@pytest.mark.parametrize("order", [1, -1], ids=["forward", "reversed"])
@pytest.mark.parametrize(
    ("path", "name", "params"),
    [
        ("/users/me", "literal", {}),
        ("/users/42", "typed", {"user_id": 42}),
        ("/users/bob", "str", {"name": "bob"}),
        ("/users/bob.json", "mixed", {"name": "bob", "ext": "json"}),
        ("/users/bob/repos", "path", {"rest": "bob/repos"}),
        ("/users/", "path", {"rest": ""}),
    ],
)
def test_precedence_is_by_specificity_not_registration_order(
    make_router: Callable[..., Router], order: int, path: str, name: str, params: dict[str, Any]
) -> None:
    router = build(make_router, PRECEDENCE[::order])
    assert resolve(router, "GET", path) == (FOUND, name, params)


def test_matching_backtracks_to_a_less_specific_branch(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/a/b/d", "abd"), ("GET", "/a/{x}/c", "axc")])
    assert resolve(router, "GET", "/a/b/c") == (FOUND, "axc", {"x": "b"})
    assert resolve(router, "GET", "/a/b/d") == (FOUND, "abd", {})
    assert resolve(router, "GET", "/a/z/d") == (NOT_FOUND, None, None)


def test_backtracking_drops_params_of_abandoned_branches(
    make_router: Callable[..., Router],
) -> None:
    router = build(
        make_router,
        [("GET", "/{a:int}/{b}/x", "int_branch"), ("GET", "/{a}/{b}/y", "str_branch")],
    )
    assert resolve(router, "GET", "/1/2/y") == (FOUND, "str_branch", {"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/i/{v:int}", "/i/0", {"v": 0}),
        ("/i/{v:int}", "/i/007", {"v": 7}),
        ("/i/{v:int}", "/i/123456789012345678", {"v": 123456789012345678}),
        ("/f/{v:float}", "/f/1.5", {"v": 1.5}),
        ("/f/{v:float}", "/f/3", {"v": 3.0}),
        (
            "/u/{v:uuid}",
            "/u/3b241101-e2bb-4255-8caf-4136c566a962",
            {"v": uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")},
        ),
        (
            "/u/{v:uuid}",
            "/u/3B241101-E2BB-4255-8CAF-4136C566A962",
            {"v": uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")},
        ),
        ("/s/{v:slug}", "/s/hello-world_2", {"v": "hello-world_2"}),
        ("/s/{v}", "/s/caf\u00e9 \u2603", {"v": "caf\u00e9 \u2603"}),
        ("/s/{v}", "/s/a%2Fb", {"v": "a%2Fb"}),
        ("/p/{v:path}", "/p/a/b//c/", {"v": "a/b//c/"}),
    ],
)
def test_converters_convert(
    make_router: Callable[..., Router], pattern: str, path: str, params: dict[str, Any]
) -> None:
    router = build(make_router, [("GET", pattern, "r")])
    code, name, got = resolve(router, "GET", path)
    assert (code, name, got) == (FOUND, "r", params)
    assert [type(v) for v in got.values()] == [type(v) for v in params.values()]


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/i/{v:int}", "/i/-1"),
        ("/i/{v:int}", "/i/1.5"),
        ("/i/{v:int}", "/i/\u0663"),  # ARABIC-INDIC DIGIT THREE: a digit, but not ASCII
        ("/i/{v:int}", "/i/1234567890123456789"),  # 19 digits
        ("/i/{v:int}", "/i/" + "9" * 5000),
        ("/f/{v:float}", "/f/1e5"),
        ("/f/{v:float}", "/f/nan"),
        ("/f/{v:float}", "/f/" + "9" * 5000),  # overflows to inf: refused
        ("/u/{v:uuid}", "/u/3b241101e2bb42558caf4136c566a962"),
        ("/s/{v:slug}", "/s/no spaces"),
        ("/s/{v}", "/s/"),
        ("/s/{v}", "/s//x"),
    ],
)
def test_converters_reject(make_router: Callable[..., Router], pattern: str, path: str) -> None:
    router = build(make_router, [("GET", pattern, "r")], redirect_slashes=False)
    assert resolve(router, "GET", path) == (NOT_FOUND, None, None)


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/files/{name}.{ext}", "/files/report.pdf", {"name": "report", "ext": "pdf"}),
        ("/files/{name}.{ext}", "/files/a.tar.gz", {"name": "a.tar", "ext": "gz"}),
        ("/compare/{base}...{head}", "/compare/main...dev", {"base": "main", "head": "dev"}),
        ("/v{major:int}/items", "/v2/items", {"major": 2}),
        ("/d/{y:int}-{m:int}-{d:int}", "/d/2024-01-31", {"y": 2024, "m": 1, "d": 31}),
        ("/x/pre{a}mid{b}post", "/x/preAmidBpost", {"a": "A", "b": "B"}),
    ],
)
def test_params_sharing_a_segment_with_text(
    make_router: Callable[..., Router], pattern: str, path: str, params: dict[str, Any]
) -> None:
    router = build(make_router, [("GET", pattern, "r")])
    assert resolve(router, "GET", path) == (FOUND, "r", params)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/files/{name}.{ext}", "/files/noext"),
        ("/files/{name}.{ext}", "/files/.hidden"),
        ("/files/{name}.{ext}", "/files/trailing."),
        ("/v{major:int}/items", "/vX/items"),
        ("/v{major:int}/items", "/v/items"),
        ("/x/pre{a}mid{b}post", "/x/premidpost"),
    ],
)
def test_mixed_segments_reject(make_router: Callable[..., Router], pattern: str, path: str) -> None:
    router = build(make_router, [("GET", pattern, "r")])
    assert resolve(router, "GET", path) == (NOT_FOUND, None, None)


def test_more_literal_text_wins_among_mixed_segments(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/f/{a}.{b}", "short"), ("GET", "/f/{a}.tar.{b}", "long")])
    assert resolve(router, "GET", "/f/x.tar.gz") == (FOUND, "long", {"a": "x", "b": "gz"})
    assert resolve(router, "GET", "/f/x.zip") == (FOUND, "short", {"a": "x", "b": "zip"})


def test_typed_params_are_tried_in_priority_order(make_router: Callable[..., Router]) -> None:
    router = build(
        make_router,
        [
            ("GET", "/t/{v:slug}", "slug"),
            ("GET", "/t/{v:float}", "float"),
            ("GET", "/t/{v:int}", "int"),
        ],
    )
    assert resolve(router, "GET", "/t/7") == (FOUND, "int", {"v": 7})
    assert resolve(router, "GET", "/t/7.5") == (FOUND, "float", {"v": 7.5})
    assert resolve(router, "GET", "/t/seven") == (FOUND, "slug", {"v": "seven"})


# -- methods ------------------------------------------------------------------------


def test_wrong_method_gives_405_with_every_allowed_method(
    make_router: Callable[..., Router],
) -> None:
    router = build(
        make_router, [("GET", "/items/{id}", "get"), ("DELETE", "/items/{id}", "delete")]
    )
    assert resolve(router, "POST", "/items/1") == (
        METHOD_NOT_ALLOWED,
        ("DELETE", "GET", "HEAD", "OPTIONS"),
        None,
    )


def test_allow_is_the_union_over_every_matching_pattern(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/users/me", "me"), ("DELETE", "/users/{name}", "del")])
    assert resolve(router, "PUT", "/users/me") == (
        METHOD_NOT_ALLOWED,
        ("DELETE", "GET", "HEAD", "OPTIONS"),
        None,
    )
    # A less specific pattern that has the method wins over a partial match.
    assert resolve(router, "DELETE", "/users/me") == (FOUND, "del", {"name": "me"})


def test_get_answers_head_and_an_explicit_head_wins(make_router: Callable[..., Router]) -> None:
    router = build(
        make_router, [("GET", "/a", "get_a"), ("GET", "/b", "get_b"), ("HEAD", "/b", "head_b")]
    )
    assert resolve(router, "HEAD", "/a") == (FOUND, "get_a", {})
    assert resolve(router, "HEAD", "/b") == (FOUND, "head_b", {})


def test_options_is_reported_as_allowed_unless_registered(
    make_router: Callable[..., Router],
) -> None:
    router = build(make_router, [("POST", "/a", "post_a"), ("OPTIONS", "/b", "options_b")])
    assert resolve(router, "OPTIONS", "/a") == (METHOD_NOT_ALLOWED, ("OPTIONS", "POST"), None)
    assert resolve(router, "OPTIONS", "/b") == (FOUND, "options_b", {})


def test_unknown_path_is_not_found(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/a", "a")])
    for path in ["/b", "/a/b", "", "a", "*", "/A"]:
        assert resolve(router, "GET", path) == (NOT_FOUND, None, None), path


# -- trailing slashes -----------------------------------------------------------------


def test_trailing_slash_patterns_are_distinct(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/users", "plain"), ("GET", "/users/", "slash")])
    assert resolve(router, "GET", "/users") == (FOUND, "plain", {})
    assert resolve(router, "GET", "/users/") == (FOUND, "slash", {})


def test_missing_or_extra_trailing_slash_redirects(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/users", "plain"), ("POST", "/items/{id}/", "slash")])
    assert resolve(router, "GET", "/users/") == (REDIRECT, "/users", None)
    assert resolve(router, "POST", "/items/3") == (REDIRECT, "/items/3/", None)
    # The redirect is decided on the path: the target then answers 405 itself.
    assert resolve(router, "GET", "/items/3") == (REDIRECT, "/items/3/", None)


def test_redirects_can_be_switched_off(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/users", "plain")], redirect_slashes=False)
    assert resolve(router, "GET", "/users/") == (NOT_FOUND, None, None)


def test_no_redirect_that_would_leave_the_site(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/{a}/{b}", "two"), ("GET", "/{a}/", "one")])
    assert resolve(router, "GET", "/x") == (REDIRECT, "/x/", None)
    # `//evil.example` as a Location is another host: never produced.
    assert resolve(router, "GET", "//evil.example") == (NOT_FOUND, None, None)
    assert resolve(router, "GET", "/\\evil.example") == (NOT_FOUND, None, None)
    assert resolve(router, "GET", "/") == (NOT_FOUND, None, None)


def test_root_route(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/", "root")])
    assert resolve(router, "GET", "/") == (FOUND, "root", {})
    assert resolve(router, "GET", "//") == (REDIRECT, "/", None)
    assert resolve(router, "GET", "/x") == (NOT_FOUND, None, None)


# -- odd and hostile paths ---------------------------------------------------------------


def test_percent_encoded_and_unicode_paths_match_as_given(
    make_router: Callable[..., Router],
) -> None:
    router = build(make_router, [("GET", "/caf\u00e9/{x}", "cafe"), ("GET", "/100%/{x}", "pct")])
    assert resolve(router, "GET", "/caf\u00e9/\u2603") == (FOUND, "cafe", {"x": "\u2603"})
    assert resolve(router, "GET", "/100%/%20") == (FOUND, "pct", {"x": "%20"})
    assert resolve(router, "GET", "/caf%C3%A9/x") == (NOT_FOUND, None, None)


def test_empty_segments(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/a//b", "double"), ("GET", "/a/{x}/b", "param")])
    assert resolve(router, "GET", "/a//b") == (FOUND, "double", {})
    assert resolve(router, "GET", "/a/x/b") == (FOUND, "param", {"x": "x"})


@pytest.mark.parametrize(
    "path",
    [
        "/pair/" + "a" * 30_000,
        "/pair/" + "-" * 30_000,
        "/pair/" + "a-" * 15_000,
        "/x\x00y/z",
        "/\ud800/\udfff",
        "/" + "a/" * 4096,
        "/" + "x" * 8192,
        # 100 kB of hostile text: a quadratic step anywhere would take minutes here.
        "/pair/" + "a-" * 50_000,
        "/pair/" + "9" * 100_000,
        "/" + "a/" * 50_000,
        "/files/" + "../" * 33_000,
    ],
    ids=[
        "long-segment",
        "dashes",
        "many-splits",
        "nul",
        "surrogates",
        "many-segments",
        "8KiB",
        "100kB-splits",
        "100kB-digits",
        "100kB-segments",
        "100kB-path-param",
    ],
)
def test_hostile_paths_never_raise(make_router: Callable[..., Router], path: str) -> None:
    router = build(
        make_router,
        [
            ("GET", "/pair/{a}-{b}", "pair"),
            ("GET", "/pair/{a:int}", "int"),
            ("GET", "/{a}/{b}/{c}", "three"),
            ("GET", "/files/{p:path}", "files"),
            ("GET", "/{a}/{b}.{c}.{d}", "dots"),
            ("GET", "/{a}/x{b}-{c:int}y", "mixed"),
        ],
    )
    code, name, params = resolve(router, "GET", path)
    assert code in (FOUND, NOT_FOUND, REDIRECT)
    if path == "/pair/" + "a-" * 15_000:
        # The first parameter is greedy; the last one may not be empty.
        assert (code, name, params) == (FOUND, "pair", {"a": "a-" * 14_998 + "a", "b": "a-"})


def test_a_huge_int_is_a_404_not_an_error(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/n/{n:int}", "n")])
    assert resolve(router, "GET", "/n/" + "1" * 5000) == (NOT_FOUND, None, None)


def test_long_paths_match(make_router: Callable[..., Router]) -> None:
    long_segment = "s" * 8192
    router = build(make_router, [("GET", "/a/{x}/b", "r")])
    assert resolve(router, "GET", f"/a/{long_segment}/b") == (FOUND, "r", {"x": long_segment})


def test_many_routes(make_router: Callable[..., Router]) -> None:
    routes = []
    for i in range(1250):
        routes += [
            ("GET", f"/static{i}/page", f"static{i}"),
            ("GET", f"/r{i}/{{id:int}}", f"int{i}"),
            ("POST", f"/r{i}/{{id:int}}/items/{{item}}", f"item{i}"),
            ("GET", f"/r{i}/{{name}}.{{ext}}", f"file{i}"),
        ]
    router = build(make_router, routes)
    assert len(router.routes) == 5000
    for i in (0, 617, 1249):
        assert resolve(router, "GET", f"/static{i}/page") == (FOUND, f"static{i}", {})
        assert resolve(router, "GET", f"/r{i}/5") == (FOUND, f"int{i}", {"id": 5})
        assert resolve(router, "POST", f"/r{i}/5/items/x") == (
            FOUND,
            f"item{i}",
            {"id": 5, "item": "x"},
        )
        assert resolve(router, "GET", f"/r{i}/a.b") == (
            FOUND,
            f"file{i}",
            {"name": "a", "ext": "b"},
        )
    assert resolve(router, "GET", "/r1250/5") == (NOT_FOUND, None, None)


def test_param_names_belong_to_each_route(make_router: Callable[..., Router]) -> None:
    router = build(make_router, [("GET", "/u/{user_id}", "get"), ("PUT", "/u/{uid}", "put")])
    assert resolve(router, "GET", "/u/1") == (FOUND, "get", {"user_id": "1"})
    assert resolve(router, "PUT", "/u/1") == (FOUND, "put", {"uid": "1"})


def test_redirect_to_a_path_parameter_that_takes_the_empty_rest(
    make_router: Callable[..., Router],
) -> None:
    router = build(make_router, [("GET", "/files/{rest:path}", "files")])
    assert resolve(router, "GET", "/files") == (REDIRECT, "/files/", None)
    assert resolve(router, "GET", "/files/") == (FOUND, "files", {"rest": ""})


def test_many_params_in_one_pattern(make_router: Callable[..., Router]) -> None:
    pattern = "/" + "/".join(f"{{p{i}:int}}" for i in range(40))
    router = build(make_router, [("GET", pattern, "many")])
    code, name, params = resolve(router, "GET", "/" + "/".join(map(str, range(40))))
    assert (code, name) == (FOUND, "many")
    assert params == {f"p{i}": i for i in range(40)}


def test_literals_compare_across_string_widths(make_router: Callable[..., Router]) -> None:
    # CPython stores "caf\u00e9" one byte a character and "\u2603" two: a path holding
    # both must still match each literal.
    router = build(make_router, [("GET", "/caf\u00e9/x", "cafe"), ("GET", "/\u2603/{s}", "snow")])
    assert resolve(router, "GET", "/caf\u00e9/x") == (FOUND, "cafe", {})
    assert resolve(router, "GET", "/\u2603/caf\u00e9") == (FOUND, "snow", {"s": "caf\u00e9"})
    router = build(make_router, [("GET", "/caf\u00e9/{s}", "cafe")])
    assert resolve(router, "GET", "/caf\u00e9/\u2603") == (FOUND, "cafe", {"s": "\u2603"})
