"""The route matchers checked against an independent oracle, on [c] and [py].

tests/test_equivalence.py compares the compiled matcher with its pure twin, so a mistake
made in both at once goes unseen. Here each implementation is compared with `Oracle`, a
reference matcher written from docs/routing.md: one regular expression per route, built
from the pattern text, and the precedence rules applied by sorting every route that
matches. It shares nothing with the trie (`bare._table`) or the walk; it does use the
converters' own `convert` (regex, then `to_python`), since that is the converter contract
both sides obey. The one rule it takes from the code is the tie-break between two mixed
segments with as much literal text, which the docs leave open. It is slow on purpose; it
is meant to be obviously right.

What `Matcher.match(method, path)` promises, and so what the oracle computes:

* FOUND with the route and its converted params: the first route, in precedence order,
  whose pattern matches the whole path and which answers the method. A route answers its
  own methods, HEAD when it has GET, and anything when it has `*` (mounts).
* 405 with the sorted union of the Allow sets of every matching pattern: its methods
  (without `*`), HEAD when GET is there, and always OPTIONS. Turning a 405 on OPTIONS into
  a 204, and not sending a HEAD body, is `Bare`'s job, not the matcher's.
* 404 when no pattern matches.

`BARE_HYPOTHESIS_EXAMPLES` sets the number of generated tables (500 by default); a long
run needs `-o timeout=0` when pytest-timeout is configured.

Mutation hook: `BARE_ORACLE_MATCHER_MODULE=/path/to/module.py` makes every test here
load `Matcher` from that file instead of bare's own modules (both [c] and [py] then run
it; add `--no-extensions` to run it once). It exists to prove that these tests catch a
planted bug: copy `_router_py.py` to a scratch directory, break the copy, point the
variable at it and watch the tests fail, without touching the shared sources.
"""

from __future__ import annotations

import importlib.util
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bare._table import TableBuilder, TableEntry
from bare._templates import RouteError, parse_template
from bare.converters import Converter, get_converter, register_converter

# Converters of our own, with priorities that put them among the builtins: `even` refuses
# in `to_python` a segment its regex let through, which must read as "no match".


def _even(text: str) -> int:
    value = int(text)
    if value % 2:
        raise ValueError("odd")
    return value


register_converter("oracle_even", "[0-9]+", _even, str, priority=15)
register_converter("oracle_hex", "[0-9a-f]+", lambda text: int(text, 16), str)
# Only for the known disagreement at the end of this file; kept out of generated tables.
register_converter("oracle_late", "[a-z]+", str, str, priority=1500)

ANY = "*"
# A route table as the tests write it: (pattern, methods, target) per route.
Routes = list[tuple[str, tuple[str, ...], str]]

# -- the oracle -----------------------------------------------------------------------

_BRACES = re.compile(r"\{([^{}]*)\}")
# Position of each kind of segment in the precedence order of docs/routing.md.
_LITERAL, _MIXED, _TYPED, _STR, _PATH = range(5)


@dataclass(frozen=True)
class OracleRoute:
    """One registered pattern, compiled the simple way."""

    pattern: str
    methods: frozenset[str]
    target: str
    regex: re.Pattern[str]
    params: tuple[tuple[str, Converter], ...]  # one per regex group, in order
    rank: tuple[Any, ...]  # smaller is tried first
    shape: tuple[Any, ...]  # equal for equivalent patterns (same text, same converters)

    def values(self, path: str) -> dict[str, Any] | None:
        """The converted params if the pattern matches the whole `path`, else None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values: dict[str, Any] = {}
        for (name, converter), text in zip(self.params, found.groups()):
            if converter.name == "path":
                values[name] = text
                continue
            try:
                values[name] = converter.convert(text)
            except ValueError:
                return None
        return values


def compile_route(pattern: str, methods: Iterable[str], target: str) -> OracleRoute:
    """Build the regex, the precedence rank and the equivalence shape of one pattern.

    Every parameter but `path` is `([^/]+)`: non-empty, within its segment. In a segment
    of text and parameters, greedy groups give the documented split (the first parameter
    takes as much as it can), and because the converters only run after the regex has
    chosen that split, a piece that does not convert fails the route instead of making
    the regex look for another split, as documented.
    """
    assert pattern.startswith("/"), pattern
    regex: list[str] = []
    params: list[tuple[str, Converter]] = []
    rank: list[tuple[Any, ...]] = []
    shape: list[tuple[Any, ...]] = []
    for segment in pattern[1:].split("/"):
        pieces = _BRACES.split(segment)
        texts, specs = pieces[0::2], pieces[1::2]
        converters = []
        for spec in specs:
            name, _, converter_name = spec.partition(":")
            converters.append((name, get_converter(converter_name or "str")))
        params += converters
        if not specs:
            regex.append(re.escape(segment))
            rank.append((_LITERAL,))
            shape.append(("text", segment))
        elif len(specs) == 1 and not any(texts):
            converter = converters[0][1]
            if converter.name == "path":
                regex.append("(.*)")  # the rest, slashes included, maybe empty
                rank.append((_PATH,))
            elif converter.name == "str":
                regex.append("([^/]+)")
                rank.append((_STR,))
            else:
                regex.append("([^/]+)")
                rank.append((_TYPED, converter.priority, converter.name))
            shape.append(("param", converter.name))
        else:
            regex.append("([^/]+)".join(re.escape(text) for text in texts))
            # More literal text first; the rest only makes the order total (undocumented).
            order = tuple((c.priority, c.name) for _, c in converters)
            rank.append((_MIXED, -sum(map(len, texts)), order, tuple(texts)))
            shape.append(("mixed", tuple(texts), tuple(c.name for _, c in converters)))
    return OracleRoute(
        pattern,
        frozenset(methods),
        target,
        re.compile("/" + "/".join(regex), re.DOTALL),
        tuple(params),
        tuple(rank),
        tuple(shape),
    )


Outcome = tuple[Any, ...]


class Oracle:
    """The documented matching rules, applied by brute force over every route."""

    def __init__(self, routes: Iterable[tuple[str, Iterable[str], str]]) -> None:
        self.routes = [compile_route(*route) for route in routes]

    def match(self, method: str, path: str) -> Outcome:
        """`("found", target, typed_params)`, `("not allowed", allow)` or `("not found",)`."""
        hits = [(r, v) for r in self.routes if (v := r.values(path)) is not None]
        hits.sort(key=lambda hit: hit[0].rank)
        # Equivalent patterns are one pattern with the union of their methods.
        groups: dict[tuple[Any, ...], dict[str, tuple[OracleRoute, dict[str, Any]]]] = {}
        for route, values in hits:
            for m in route.methods:
                groups.setdefault(route.shape, {})[m] = (route, values)
        for handlers in groups.values():
            chosen = handlers.get(method)
            if chosen is None and method == "HEAD":
                chosen = handlers.get("GET")
            if chosen is None:
                chosen = handlers.get(ANY)
            if chosen is not None:
                route, values = chosen
                return ("found", route.target, typed(values))
        if not groups:
            return ("not found",)
        allow = {"OPTIONS"}
        for handlers in groups.values():
            allow.update(m for m in handlers if m != ANY)
            if "GET" in handlers:
                allow.add("HEAD")
        return ("not allowed", tuple(sorted(allow)))


def typed(params: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Params with their types, so that `7` and `"7"` or `7` and `7.0` differ."""
    return {name: (type(value), value) for name, value in params.items()}


# -- the implementation under test -----------------------------------------------------


@pytest.fixture(scope="module")
def matcher_module(router_module: ModuleType) -> ModuleType:
    """bare's matcher module for this [c] or [py] run, or the mutation hook's file."""
    override = os.environ.get("BARE_ORACLE_MATCHER_MODULE")
    if not override:
        return router_module
    spec = importlib.util.spec_from_file_location("bare_oracle_override", override)
    assert spec is not None and spec.loader is not None, override
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Subject:
    """A real matcher over a table built by bare's TableBuilder, answering like `Oracle`."""

    def __init__(self, module: ModuleType, routes: Iterable[tuple[str, Iterable[str], str]]):
        builder = TableBuilder()
        for pattern, methods, target in routes:
            builder.add(TableEntry(parse_template(pattern), tuple(methods), target, target))
        self.module = module
        self.matcher = module.Matcher(builder.table())

    def match(self, method: str, path: str) -> Outcome:
        code, target, params = self.matcher.match(method, path)
        if code == self.module.FOUND:
            return ("found", target, typed(params))
        if code == self.module.METHOD_NOT_ALLOWED:
            assert params is None
            return ("not allowed", target)
        assert code == self.module.NOT_FOUND and target is None and params is None
        return ("not found",)


# -- generated tables and paths -------------------------------------------------------

LITERALS = ("a", "b", "me", "files", "raw", "7", "v2", "a.txt", "", "\u00e9", "x.y")
PARAMS = (
    "{%s}",
    "{%s}",
    "{%s:int}",
    "{%s:float}",
    "{%s:slug}",
    "{%s:uuid}",
    "{%s:oracle_even}",
    "{%s:oracle_hex}",
)
MIXED = (
    "{%s}.{%s_b}",
    "{%s}-{%s_b}",
    "{%s}.tar.{%s_b}",
    "{%s}.{%s_b}.{%s_c}",
    "{%s}...{%s_b}",
    "{%s}.json",
    "{%s:slug}.{%s_b}",
    "{%s}-{%s_b:int}",
    "{%s:int}.{%s_b:int}",
    "{%s:oracle_hex}.{%s_b}",
    "{%s}_{%s_b:oracle_even}",
    "v{%s:int}",
    "v{%s}",
    "x{%s}",
)
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", ANY)
REQUEST_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
UUID_TEXT = "3b241101-e2bb-4255-8caf-4136c566a962"
# Parameter values: each converter's hits and near misses, text that mixed segments split
# in several places, and text that is never a parameter (empty, a slash).
VALUES = (
    "7",
    "8",
    "42",
    "007",
    "1.5",
    "3.4",
    "ab",
    "ff",
    "me",
    "raw",
    "a.b",
    "a.txt",
    "a.tar.gz",
    "x.json",
    "x-3",
    "a-b-c",
    "a...b",
    "1.2.3",
    "v2",
    "vx",
    "\u00e9",
    "\u0661\u0662",  # ARABIC-INDIC digits: digits, but not ASCII ones
    "9" * 19,  # one digit too many for `int`
    "a\nb",
    UUID_TEXT,
    UUID_TEXT.upper(),
    "",
    "a/b",
)

# Values each converter accepts, for paths that go deep before they miss.
FITTING = {
    "str": ("ab", "a.b", "7"),
    "int": ("7", "42", "007"),
    "float": ("1.5", "7"),
    "slug": ("ab", "x-3"),
    "uuid": (UUID_TEXT, UUID_TEXT.upper()),
    "oracle_even": ("8", "42"),
    "oracle_hex": ("ff", "7"),
    "path": ("a/b", "", "x"),
}


def segment_choices() -> st.SearchStrategy[str]:
    """One segment of a pattern, with `%s` where its parameter names go."""
    # `str` and `path` parameters overlap with every other kind of segment: give them
    # more weight.
    return st.one_of(
        st.sampled_from(LITERALS),
        st.sampled_from(PARAMS),
        st.sampled_from(MIXED),
        st.just("{%s}"),
        st.just("{%s:path}"),
    )


def similar(choice: str) -> st.SearchStrategy[str]:
    """A segment of the same kind as `choice`: a rival for it at the same place."""
    for kind in (LITERALS, PARAMS, MIXED):
        if choice in kind:
            return st.sampled_from(kind)
    return st.sampled_from(PARAMS)


@st.composite
def route_tables(draw: st.DrawFn) -> Routes:
    # Every pattern is a variant of one base pattern (a segment or two changed, one
    # more or one less), so that one path often matches several of them: that is where
    # precedence, backtracking and the Allow union are decided.
    base = draw(st.lists(segment_choices(), min_size=1, max_size=4))
    used: dict[str, set[str]] = {}
    table = []
    for index in range(draw(st.integers(1, 8))):
        choices = list(base)
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.integers(0, len(choices) - 1))
            choices[where] = draw(st.one_of(segment_choices(), similar(choices[where])))
        change = draw(st.sampled_from(["same", "same", "shorter", "longer"]))
        if change == "shorter" and len(choices) > 1:
            choices.pop()
        elif change == "longer":
            choices.append(draw(segment_choices()))
        prefix = draw(st.sampled_from("pq"))  # equivalent patterns may name params differently
        segments = []
        for depth, choice in enumerate(choices):
            segments.append(choice.replace("%s", f"{prefix}{depth}"))
            if choice == "{%s:path}":
                break  # only ever the last segment
        pattern = "/" + "/".join(segments)
        # The same method twice on equivalent patterns is refused: give each method to
        # one of them only, so that nearly every table is accepted.
        taken = used.setdefault(pattern.replace("{q", "{p"), set())
        free = [method for method in METHODS if method not in taken]
        if not free:
            continue
        methods = draw(st.lists(st.sampled_from(free), min_size=1, max_size=3, unique=True))
        taken.update(methods)
        table.append((pattern, tuple(methods), f"r{index}"))
    return table


@st.composite
def request_paths(draw: st.DrawFn, table: Routes) -> str:
    def value(found: re.Match[str]) -> str:
        converter: str = found[1].partition(":")[2] or "str"
        pool = FITTING[converter] if draw(st.booleans()) else VALUES + LITERALS
        return draw(st.sampled_from(pool))

    def fill(template: str) -> str:
        return _BRACES.sub(value, template)

    patterns = [pattern for pattern, _, _ in table]
    how = draw(st.sampled_from(["fill", "fill", "mix", "mix", "shorter", "pieces", "text"]))
    if how == "fill":
        # A pattern with its braces filled: these paths hit, or miss by little.
        path = fill(draw(st.sampled_from(patterns)))
        return path + draw(st.sampled_from(["", "", "", "/", "/raw", "/a"]))
    if how == "mix":
        # Each segment filled from a segment some pattern has at that depth: these paths
        # tend to match several patterns at once.
        split = [pattern[1:].split("/") for pattern in patterns]
        path = ""
        for depth in range(len(draw(st.sampled_from(split)))):
            here = [segments[depth] for segments in split if len(segments) > depth]
            path += "/" + fill(draw(st.sampled_from(here)))
        return path
    if how == "shorter":
        return fill(draw(st.sampled_from(patterns))).rsplit("/", 1)[0] or "/"
    if how == "pieces":
        pieces = st.sampled_from(LITERALS + VALUES)
        return "/" + "/".join(draw(st.lists(pieces, max_size=4)))
    return draw(st.text(alphabet="/ab7.-v\u00e9\n", max_size=12))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Routes, list[str]]:
    table = draw(route_tables())
    return table, draw(st.lists(request_paths(table), min_size=1, max_size=6))


# Put in every brace of every pattern, on top of the drawn paths: cheap (nothing to
# draw) and enough to set the usual rivals against each other on every table.
PROBES = ("7", "ab", "a.b", "", "a/b", None)  # None: a value that fits each converter


def probe_paths(table: Routes) -> list[str]:
    paths: set[str] = set()
    for pattern, _, _ in table:
        pieces = _BRACES.split(pattern)
        for value in PROBES:
            pieces[1::2] = [
                FITTING[spec.partition(":")[2] or "str"][0] if value is None else value
                for spec in pieces[1::2]
            ]
            path = "".join(pieces)
            paths.update((path, path + "/x", path.rsplit("/", 1)[0] or "/"))
    return sorted(paths)


def _examples() -> int:
    return int(os.environ.get("BARE_HYPOTHESIS_EXAMPLES", "500"))


@settings(
    max_examples=_examples(),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(scenario=scenarios())
def test_matcher_agrees_with_the_oracle(
    matcher_module: ModuleType,
    scenario: tuple[Routes, list[str]],
) -> None:
    table, paths = scenario
    try:
        subject = Subject(matcher_module, table)
    except RouteError:
        event("table refused")
        assume(False)
    event("table accepted")
    oracle = Oracle(table)
    for path in paths + probe_paths(table):
        for method in REQUEST_METHODS:
            expected = oracle.match(method, path)
            assert subject.match(method, path) == expected, (method, path)
            event(f"outcome: {expected[0]}")


# -- the oracle checked by hand, and regressions -----------------------------------------


def check(module: ModuleType, routes: Routes, method: str, path: str, expected: Outcome) -> None:
    """Both the oracle and the matcher give `expected`, written out by hand."""
    assert Oracle(routes).match(method, path) == expected, "oracle"
    assert Subject(module, routes).match(method, path) == expected, "matcher"


def found(target: str, **params: Any) -> Outcome:
    return ("found", target, typed(params))


NOT_FOUND = ("not found",)

FILES = [
    ("/files/{name}.{ext}/raw", ("GET",), "raw"),
    ("/files/{name}", ("GET",), "file"),
]


@pytest.mark.parametrize(
    ("routes", "path", "expected"),
    [
        # The review's case: the mixed segment is the only way on from `/files`.
        (FILES[:1], "/files/a.txt/raw", found("raw", name="a", ext="txt")),
        (FILES[:1], "/files/a.tar.gz/raw", found("raw", name="a.tar", ext="gz")),
        (FILES[:1], "/files/a.txt", NOT_FOUND),
        (FILES, "/files/a.txt/raw", found("raw", name="a", ext="txt")),
        (FILES, "/files/a.txt", found("file", name="a.txt")),
        # A mixed segment next to a `str` parameter: the walk must leave the mixed branch.
        (
            [*FILES, ("/files/{x}/raw", ("POST",), "post")],
            "/files/a.txt/raw",
            found("raw", name="a", ext="txt"),
        ),
        (
            [("/files/{name}.{ext}/raw", ("GET",), "raw"), ("/files/{x}/other", ("GET",), "o")],
            "/files/a.txt/other",
            found("o", x="a.txt"),
        ),
        # A mixed segment next to a `path` parameter.
        (
            [("/f/{n}.{e}/raw", ("GET",), "raw"), ("/f/{rest:path}", ("GET",), "rest")],
            "/f/a.b/raw",
            found("raw", n="a", e="b"),
        ),
        (
            [("/f/{n}.{e}/raw", ("GET",), "raw"), ("/f/{rest:path}", ("GET",), "rest")],
            "/f/a.b/cooked",
            found("rest", rest="a.b/cooked"),
        ),
        (
            [("/v{ver:int}/items", ("GET",), "items")],
            "/v2/items",
            found("items", ver=2),
        ),
        ([("/v{ver:int}/items", ("GET",), "items")], "/vx/items", NOT_FOUND),
        # One split, no second attempt: `1.2` is not an int, and `1` + `2.x` is not tried.
        ([("/{n:int}.{e}", ("GET",), "r")], "/1.2.x", NOT_FOUND),
        ([("/{n:int}.{e}", ("GET",), "r")], "/1.x", found("r", n=1, e="x")),
        ([("/{n}.{e:int}", ("GET",), "r")], "/x.b.1", found("r", n="x.b", e=1)),
        ([("/{a}.{b}.{c}", ("GET",), "r")], "/1.2.3.4", found("r", a="1.2", b="3", c="4")),
        # Every parameter takes at least one character.
        ([("/{a}.{b}", ("GET",), "r")], "/.b", NOT_FOUND),
        ([("/{a}.{b}", ("GET",), "r")], "/a.", NOT_FOUND),
        ([("/{n}.json", ("GET",), "r")], "/.json", NOT_FOUND),
        ([("/v{n}", ("GET",), "r")], "/v", NOT_FOUND),
    ],
)
def test_mixed_segments(
    matcher_module: ModuleType, routes: Routes, path: str, expected: Outcome
) -> None:
    check(matcher_module, routes, "GET", path, expected)


PRECEDENCE: Routes = [
    ("/users/{rest:path}", ("GET",), "path"),
    ("/users/{name}", ("GET",), "str"),
    ("/users/{n:oracle_hex}", ("GET",), "hex"),
    ("/users/{n:slug}", ("GET",), "slug"),
    ("/users/{n:float}", ("GET",), "float"),
    ("/users/{n:oracle_even}", ("GET",), "even"),
    ("/users/{n:int}", ("GET",), "int"),
    ("/users/{n:uuid}", ("GET",), "uuid"),
    ("/users/{name}.{ext}", ("GET",), "mixed"),
    ("/users/{name}.json", ("GET",), "json"),
    ("/users/me", ("GET",), "literal"),
]


@pytest.mark.parametrize("order", [1, -1], ids=["forward", "reversed"])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/me", found("literal")),
        ("/users/bob.json", found("json", name="bob")),
        ("/users/bob.xml", found("mixed", name="bob", ext="xml")),
        ("/users/" + UUID_TEXT, found("uuid", n=uuid.UUID(UUID_TEXT))),
        ("/users/7", found("int", n=7)),
        ("/users/" + "8" * 19, found("even", n=int("8" * 19))),
        ("/users/" + "7" * 19, found("float", n=float("7" * 19))),
        ("/users/7.5", found("mixed", name="7", ext="5")),
        ("/users/b-c", found("slug", n="b-c")),
        ("/users/caf\u00e9", found("str", name="caf\u00e9")),
        ("/users/bob/repos", found("path", rest="bob/repos")),
        ("/users/", found("path", rest="")),
        ("/users", NOT_FOUND),
    ],
)
def test_precedence(matcher_module: ModuleType, order: int, path: str, expected: Outcome) -> None:
    check(matcher_module, PRECEDENCE[::order], "GET", path, expected)


def test_hex_beats_str_by_priority(matcher_module: ModuleType) -> None:
    routes: Routes = [("/h/{x}", ("GET",), "str"), ("/h/{x:oracle_hex}", ("GET",), "hex")]
    check(matcher_module, routes, "GET", "/h/ff", found("hex", x=255))
    check(matcher_module, routes, "GET", "/h/fg", found("str", x="fg"))


def test_backtracking_between_segments(matcher_module: ModuleType) -> None:
    routes: Routes = [
        ("/a/b/d", ("GET",), "abd"),
        ("/a/{x}/c", ("GET",), "axc"),
        ("/a/{x:int}/{y:int}", ("GET",), "ints"),
        ("/a/{x}/{y}", ("GET",), "strs"),
    ]
    check(matcher_module, routes, "GET", "/a/b/c", found("axc", x="b"))
    check(matcher_module, routes, "GET", "/a/1/2", found("ints", x=1, y=2))
    check(matcher_module, routes, "GET", "/a/1/z", found("strs", x="1", y="z"))
    check(matcher_module, routes, "GET", "/a/b/d", found("abd"))


def test_refused_conversion_falls_back(matcher_module: ModuleType) -> None:
    routes: Routes = [("/n/{v:oracle_even}", ("GET",), "even"), ("/n/{v}", ("POST",), "any")]
    check(matcher_module, routes, "GET", "/n/4", found("even", v=4))
    check(matcher_module, routes, "GET", "/n/3", ("not allowed", ("OPTIONS", "POST")))
    check(matcher_module, routes, "POST", "/n/4", found("any", v="4"))


def test_method_picks_among_matching_routes(matcher_module: ModuleType) -> None:
    routes: Routes = [
        ("/users/me", ("GET",), "me"),
        ("/users/{name}", ("DELETE",), "delete"),
        ("/users/{uid}", ("PUT",), "put"),  # same pattern as `delete`, other name
    ]
    check(matcher_module, routes, "DELETE", "/users/me", found("delete", name="me"))
    check(matcher_module, routes, "PUT", "/users/me", found("put", uid="me"))
    check(
        matcher_module,
        routes,
        "POST",
        "/users/me",
        ("not allowed", ("DELETE", "GET", "HEAD", "OPTIONS", "PUT")),
    )
    check(matcher_module, routes, "POST", "/users/x", ("not allowed", ("DELETE", "OPTIONS", "PUT")))
    # The method is found on a later parameter of the same node.
    routes = [("/{x:int}", ("GET",), "int"), ("/{x}", ("POST",), "str")]
    check(matcher_module, routes, "POST", "/7", found("str", x="7"))
    check(matcher_module, routes, "PUT", "/7", ("not allowed", ("GET", "HEAD", "OPTIONS", "POST")))


def test_head_options_and_any_method(matcher_module: ModuleType) -> None:
    routes: Routes = [
        ("/h/{x:int}", ("GET",), "get"),
        ("/h/{x}", ("HEAD",), "head"),
        ("/o/{x}", ("OPTIONS",), "options"),
        ("/o/{x:int}", ("POST",), "post"),
        ("/m/{rest:path}", (ANY,), "mount"),
        ("/m/{x}", ("GET", "HEAD"), "page"),
    ]
    # HEAD: a GET route earlier in precedence order answers before a later HEAD route.
    check(matcher_module, routes, "HEAD", "/h/1", found("get", x=1))
    check(matcher_module, routes, "HEAD", "/h/z", found("head", x="z"))
    check(matcher_module, routes, "GET", "/h/z", ("not allowed", ("HEAD", "OPTIONS")))
    # OPTIONS is in every Allow; a registered OPTIONS route answers it like any method.
    check(matcher_module, routes, "OPTIONS", "/o/1", found("options", x="1"))
    check(matcher_module, routes, "GET", "/o/1", ("not allowed", ("OPTIONS", "POST")))
    # `*` answers every method, after the patterns before it in precedence order.
    check(matcher_module, routes, "PATCH", "/m/x", found("mount", rest="x"))
    check(matcher_module, routes, "HEAD", "/m/x", found("page", x="x"))
    check(matcher_module, routes, "GET", "/m/x/y", found("mount", rest="x/y"))


def test_not_found_and_odd_paths(matcher_module: ModuleType) -> None:
    routes: Routes = [("/", ("GET",), "root"), ("/a//b", ("GET",), "double")]
    check(matcher_module, routes, "GET", "/", found("root"))
    check(matcher_module, routes, "GET", "/a//b", found("double"))
    for path in ["", "a", "*", "//", "/a/b"]:
        check(matcher_module, routes, "GET", path, NOT_FOUND)


def test_path_parameter_takes_newlines_and_empty_segments(matcher_module: ModuleType) -> None:
    routes: Routes = [("/s/{rest:path}", ("GET",), "rest")]
    check(matcher_module, routes, "GET", "/s/a\n/b//", found("rest", rest="a\n/b//"))
    check(matcher_module, routes, "GET", "/s", NOT_FOUND)


LATE: Routes = [("/t/{v}", ("GET",), "str"), ("/t/{v:oracle_late}", ("GET",), "late")]


def test_a_converter_of_any_priority_comes_before_str(matcher_module: ModuleType) -> None:
    subject = Subject(matcher_module, LATE)
    assert subject.match("GET", "/t/abc") == found("late", v="abc")


def test_the_oracle_puts_a_converter_of_any_priority_before_str() -> None:
    assert Oracle(LATE).match("GET", "/t/abc") == found("late", v="abc")
