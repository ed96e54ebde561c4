"""Router matching benchmarks on the GitHub API table (benchmarks/data/github.json).

Every scenario is a list of about 1000 requests built once at import, with distinct
parameter values so that no cache could hide the matching cost (the static scenario
cycles over the table's few static routes). One benchmark round is one pass over the list, so
pytest-benchmark's figures are per `calls` matches: `extra_info["calls"]` holds that
number and the group name repeats it; `benchmarks/report.py` divides it out.

Each scenario runs on bare's compiled (`[c]`) and pure (`[py]`) matchers and on the two
reference matchers of `_reference.py`, in one group. After measuring, every test checks
each answer against the expectation derived from the table alone, so
`pytest benchmarks --benchmark-disable` is a correctness test too. Route `i` of a table
is named `r{i}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _reference import HandTrie, LinearRegexRouter, Result
from bare.routing import FOUND, METHOD_NOT_ALLOWED, NOT_FOUND

DATA = Path(__file__).parent / "data"
GITHUB: list[tuple[str, str]] = [tuple(r) for r in json.loads((DATA / "github.json").read_text())]
SAMPLES: list[tuple[str, str]] = [
    tuple(r) for r in json.loads((DATA / "github_requests.json").read_text())
]
CALLS = 1000  # requests per scenario, give or take

Expected = tuple[int, Any, Any]  # as bare answers, with the route's name for the route


@dataclass(frozen=True)
class Request:
    """One request of a scenario and bare's expected answer to it."""

    method: str
    path: str
    expected: Expected


@dataclass(frozen=True)
class Scenario:
    """Requests to match against `table` (`[(method, pattern)]`); `name` is the test id."""

    name: str
    title: str
    table: list[tuple[str, str]]
    requests: list[Request]

    @property
    def group(self) -> str:
        return f"{self.title} ({len(self.requests)} calls/round)"


def endpoint(request: Any) -> None:
    """The endpoint of every route; never called."""


def _index(method: str, pattern: str) -> int:
    return GITHUB.index((method, pattern))


def _sample(index: int, variant: int, method: str | None = None) -> Request:
    """Route `index`'s sample request, each parameter value suffixed with `variant`."""
    route_method, pattern = GITHUB[index]
    suffix = str(variant) if variant else ""
    segments, params = [], {}
    for text, sample in zip(pattern.split("/"), SAMPLES[index][1].split("/"), strict=True):
        if text.startswith("{"):
            params[text[1:-1]] = sample + suffix
            segments.append(sample + suffix)
        else:
            segments.append(text)
    path = "/".join(segments)
    if method is None or method == route_method:
        return Request(route_method, path, (FOUND, f"r{index}", params))
    allowed = {m for m, p in GITHUB if p == pattern}
    allow = tuple(sorted(allowed | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())))
    return Request(method, path, (METHOD_NOT_ALLOWED, allow, None))


def _miss(variant: int) -> Request:
    shape = (
        "/repos/julienschmidt{}/httprouter/missing",
        "/users/julienschmidt{}/missing/x",
        "/missing{}",
    )[variant % 3]
    return Request("GET", shape.format(variant), (NOT_FOUND, None, None))


def _scenarios() -> list[Scenario]:
    static = [i for i, (_, pattern) in enumerate(GITHUB) if "{" not in pattern]
    most = max(pattern.count("{") for _, pattern in GITHUB)
    deepest = [i for i, (_, pattern) in enumerate(GITHUB) if pattern.count("{") == most]
    user = _index("GET", "/users/{user}")
    labels = _index("GET", "/repos/{owner}/{repo}/issues/{number}/labels")
    authorization = _index("GET", "/authorizations/{id}")
    last = len(GITHUB) - 1
    variants = range(1, CALLS + 1)
    passes = range(-(-CALLS // len(GITHUB)))  # the sample requests, then variants
    small = [_sample(authorization, k) for k in variants]
    small_title = f"GET {GITHUB[authorization][1]} on 5 vs {len(GITHUB)} routes"
    return [
        Scenario(
            "static",
            f"{len(static)} static routes",
            GITHUB,
            [_sample(static[k % len(static)], 0) for k in variants],
        ),
        Scenario("one-param", "GET /users/{user}", GITHUB, [_sample(user, k) for k in variants]),
        Scenario(
            "deep",
            ", ".join(" ".join(GITHUB[i]) for i in deepest),
            GITHUB,
            [_sample(deepest[k % len(deepest)], k) for k in variants],
        ),
        Scenario(
            "last-route",
            "the last route, " + " ".join(GITHUB[last]),
            GITHUB,
            [_sample(last, k) for k in variants],
        ),
        Scenario("404", "404, 3 shapes", GITHUB, [_miss(k) for k in variants]),
        Scenario(
            "405",
            "405, PATCH " + GITHUB[labels][1],
            GITHUB,
            [_sample(labels, k, "PATCH") for k in variants],
        ),
        Scenario(
            "github-all",
            f"all {len(GITHUB)} GitHub requests x {len(passes)}",
            GITHUB,
            [_sample(i, k) for k in passes for i in range(len(GITHUB))],
        ),
        Scenario("size-5", small_title, GITHUB[:5], small),
        Scenario(f"size-{len(GITHUB)}", small_title, GITHUB, small),
    ]


SCENARIOS = [
    pytest.param(s, id=s.name, marks=pytest.mark.benchmark(group=s.group)) for s in _scenarios()
]


def _measure(benchmark: Any, scenario: Scenario, impl: str, match: Callable[..., Any]) -> None:
    """Benchmark one pass of `match` over the scenario's requests."""
    pairs = [(r.method, r.path) for r in scenario.requests]

    def one_pass() -> None:
        for method, path in pairs:
            match(method, path)

    benchmark.extra_info.update(scenario=scenario.name, impl=impl, calls=len(pairs))
    benchmark(one_pass)


def _bare_answer(answer: tuple[int, Any, Any]) -> Expected:
    code, target, params = answer
    return (code, target.name, params) if code == FOUND else (code, target, params)


def _reference_expected(expected: Expected) -> Result:
    code, name, params = expected
    return (name, params) if code == FOUND else None


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bare(benchmark: Any, make_router: Any, impl: Any, scenario: Scenario) -> None:
    """bare's matcher, compiled and pure."""
    router = make_router()
    for i, (method, pattern) in enumerate(scenario.table):
        router.add_route(pattern, endpoint, [method], name=f"r{i}")
    match = router.http_matcher().match
    _measure(benchmark, scenario, str(impl), match)
    answers = [_bare_answer(match(r.method, r.path)) for r in scenario.requests]
    assert answers == [r.expected for r in scenario.requests]


def _check_reference(
    benchmark: Any, scenario: Scenario, matcher: HandTrie | LinearRegexRouter
) -> None:
    """Benchmark a reference matcher, then check it finds the expected route or nothing."""
    _measure(benchmark, scenario, type(matcher).__name__, matcher.match)
    answers = [matcher.match(r.method, r.path) for r in scenario.requests]
    assert answers == [_reference_expected(r.expected) for r in scenario.requests]


def _entries(scenario: Scenario) -> list[tuple[str, str, str]]:
    return [(method, pattern, f"r{i}") for i, (method, pattern) in enumerate(scenario.table)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_hand_trie(benchmark: Any, scenario: Scenario) -> None:
    """The minimal hand-written trie: about the floor for a pure-Python router."""
    _check_reference(benchmark, scenario, HandTrie(_entries(scenario)))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_linear_regex(benchmark: Any, scenario: Scenario) -> None:
    """The linear regex scan: cost grows with the route's place in the table."""
    _check_reference(benchmark, scenario, LinearRegexRouter(_entries(scenario)))
