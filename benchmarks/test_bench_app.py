"""Full request-cycle benchmarks: bare against a raw ASGI floor and its peers, in process.

Every app of `benchmarks/apps` registers the same 205 routes (see `apps/__init__.py`) and
is driven as a server would drive it, on one event loop for the whole module (uvloop when
installed): its lifespan is started once, then each request gets a fresh scope (a shallow
copy of a template with six realistic headers), a `receive` that gives the empty body
once and `http.disconnect` after that, and a `send` that records the messages.

One benchmark round awaits `CALLS` requests one after the other inside one coroutine, so
the loop's cost is spread over them: pytest-benchmark's figures are per `CALLS` requests,
`extra_info["calls"]` holds that number and `benchmarks/app_report.py` divides it out.
Parameter values differ from one request to the next, and from one round to the next
over `POOL` requests: BlackSheep and Litestar keep an LRU cache of route matches keyed by
path (1200 and 1024 entries), which would otherwise answer every round after the first
and hide their matching cost, as a cache would not for the many values of real traffic.

Every response is checked against its expected status and body as it arrives (a tuple
compare, cheap next to a request; the 404 body is checked for bare and the floor only),
and each app's content type once per scenario, so
`pytest benchmarks/test_bench_app.py --benchmark-disable` is a correctness test of every
app on every scenario.

bare runs as `[c]` and `[py]` (the `impl` fixture), which picks the route matcher. The
header codecs are chosen when bare is imported, so in one process `[py]` still uses the
compiled ones; for all-pure figures run the module again with `BARE_NO_EXTENSIONS=1`,
as `app_report.py` does.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from _driver import Call, Client
from apps import HELLO_PATTERN, JSON_BODY, NOT_FOUND_BODY, PAIR_PATTERN, PLAINTEXT, TEXT_TYPE
from bare._speedups import implementations

CALLS = 200  # requests per benchmark round
POOL = 16 * CALLS  # distinct requests of a scenario, cycled over; more than any peer caches


@dataclass(frozen=True)
class Scenario:
    """`POOL` GET requests and what every app must answer them, sent `CALLS` per round."""

    name: str
    paths: list[str]
    status: int
    bodies: list[bytes]
    content_type: str | None  # checked once per app; None for the 404
    peers_check_body: bool = True  # False: the peers' bodies differ (the 404)

    @property
    def group(self) -> str:
        return f"app-{self.name}"

    def rounds(self, check_body: bool) -> list[list[Call]]:
        """The requests, `CALLS` to a round."""
        requests = [
            (path, path.encode(), self.status, body if check_body else None)
            for path, body in zip(self.paths, self.bodies)
        ]
        return [requests[i : i + CALLS] for i in range(0, len(requests), CALLS)]


def _scenarios() -> list[Scenario]:
    ks = range(1, POOL + 1)
    users = [f"octocat{k}" for k in ks]
    pairs = [(f"owner{k}", f"repo-{k}") for k in ks]
    return [
        Scenario("plaintext", ["/plaintext"] * POOL, 200, [PLAINTEXT.encode()] * POOL, TEXT_TYPE),
        Scenario("json", ["/json"] * POOL, 200, [JSON_BODY] * POOL, "application/json"),
        Scenario(
            "one-param",
            [HELLO_PATTERN.replace("{user}", user) for user in users],
            200,
            [f"Hello, {user}".encode() for user in users],
            TEXT_TYPE,
        ),
        Scenario(
            "two-param",
            [PAIR_PATTERN.format(owner=owner, repo=repo) for owner, repo in pairs],
            200,
            [f"{owner}/{repo}".encode() for owner, repo in pairs],
            TEXT_TYPE,
        ),
        Scenario(
            "404",
            [f"/does/not/exist/{k}" for k in ks],
            404,
            [NOT_FOUND_BODY] * POOL,
            None,
            peers_check_body=False,
        ),
    ]


SCENARIOS = [
    pytest.param(s, id=s.name, marks=pytest.mark.benchmark(group=s.group)) for s in _scenarios()
]

# name -> (the framework's import name, the module of `apps` that builds the app)
PEERS = {
    "starlette": ("starlette", "starlette_app"),
    "blacksheep": ("blacksheep", "blacksheep_app"),
    "fastapi": ("fastapi", "fastapi_app"),
    "falcon": ("falcon", "falcon_app"),
    "litestar": ("litestar", "litestar_app"),
}


def _measure(
    benchmark: Any, client: Client, scenario: Scenario, check_body: bool, **info: str
) -> None:
    """Check the app's first answer in full, then benchmark rounds of checked requests."""
    rounds = scenario.rounds(check_body)
    status, body, headers = client.probe(rounds[0][0])
    assert status == scenario.status, (status, body)
    if check_body:
        assert body == scenario.bodies[0], body
    if scenario.content_type is not None:
        assert headers.get("content-type") == scenario.content_type, headers
    benchmark.extra_info.update(
        scenario=scenario.name, calls=CALLS, loop=type(client.loop).__module__, **info
    )
    next_round = itertools.cycle(rounds).__next__
    benchmark(lambda: client.run(next_round()))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_floor(benchmark: Any, serve: Callable[..., Client], scenario: Scenario) -> None:
    """The hand-written ASGI callable: the least a framework must cost."""
    from apps import raw

    _measure(benchmark, serve("floor", raw.make_app), scenario, True, app="floor")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bare(benchmark: Any, serve: Callable[..., Client], impl: Any, scenario: Scenario) -> None:
    """bare with the compiled or the pure matcher (and the header codecs bare selected)."""
    from apps import bare_app

    matcher_class = impl.module("router").Matcher
    client = serve(f"bare-{impl}", lambda: bare_app.make_app(matcher_class))
    headers = implementations()["headers"]
    _measure(benchmark, client, scenario, True, app="bare", impl=str(impl), headers=headers)


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_peer(benchmark: Any, serve: Callable[..., Client], peer: str, scenario: Scenario) -> None:
    """A peer framework on the same routes."""
    framework, module = PEERS[peer]
    pytest.importorskip(framework)
    make_app = importlib.import_module(f"apps.{module}").make_app
    _measure(benchmark, serve(peer, make_app), scenario, scenario.peers_check_body, app=peer)
