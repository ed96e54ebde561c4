"""Fixtures shared by tests/ and benchmarks/: every implementation-specific test runs
once per implementation, as `[c]` (compiled) and `[py]` (pure Python)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

import pytest


@dataclass(frozen=True)
class Impl:
    """One implementation of bare's compiled features: "c" or "py"."""

    name: str

    def module(self, feature: str) -> ModuleType:
        """`bare._router` for "c", `bare._router_py` for "py"; ImportError if not built."""
        suffix = "" if self.name == "c" else "_py"
        return import_module(f"bare._{feature}{suffix}")

    def __str__(self) -> str:
        return self.name


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--extensions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the [c] tests against the compiled modules (default); "
        "--no-extensions deselects them",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--extensions"):
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("c_extension") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(
    scope="session",
    params=[pytest.param(Impl("c"), marks=pytest.mark.c_extension), Impl("py")],
    ids=str,
)
def impl(request: pytest.FixtureRequest) -> Impl:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def router_module(impl: Impl) -> ModuleType:
    # With the default options a missing compiled module is an error, not a skip.
    return impl.module("router")


@pytest.fixture(scope="session")
def headers_module(impl: Impl) -> ModuleType:
    return impl.module("headers")


@pytest.fixture
def make_router(router_module: ModuleType) -> Any:
    """`make_router(**options)`: a `bare.routing.Router` on the implementation under test."""
    from bare.routing import Router

    def make(**options: Any) -> Router:
        return Router(matcher_class=router_module.Matcher, **options)

    return make
