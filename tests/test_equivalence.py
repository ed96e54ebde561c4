"""Differential test: on random route tables and paths, the compiled matcher and the
pure one give the same route, params (values and types), Allow and redirect decision."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bare import RouteError
from bare.routing import FOUND, Router

pytestmark = pytest.mark.c_extension

LITERALS = ["a", "b", "ab", "", "x.y", "\u00e9", "1", "v1", "\u2603", "\U0001f600x"]
PARAMS = ["{%s}", "{%s:int}", "{%s:float}", "{%s:slug}", "{%s:uuid}"]
MIXED = ["{%s}.{%s2}", "v{%s:int}", "{%s}-{%s2:int}", "{%s}...{%s2}", "x{%s}"]
METHODS = ["GET", "POST", "DELETE", "HEAD", "OPTIONS"]
PATH_CHARS = "ab1.-_\u00e9\u2603\U0001f600%/\x00 9"


@st.composite
def patterns(draw: Any) -> str:
    count = draw(st.integers(1, 4))
    segments = []
    for index in range(count):
        kind = draw(st.sampled_from(["literal", "literal", "param", "mixed", "path"]))
        name = f"p{index}"
        if kind == "literal":
            segments.append(draw(st.sampled_from(LITERALS)))
        elif kind == "param":
            segments.append(draw(st.sampled_from(PARAMS)) % name)
        elif kind == "mixed":
            template = draw(st.sampled_from(MIXED))
            segments.append(template.replace("%s2", name + "b").replace("%s", name))
        else:
            segments.append(f"{{{name}:path}}")
            break
    return "/" + "/".join(segments)


@st.composite
def request_paths(draw: Any, tables: list[str]) -> str:
    if tables and draw(st.booleans()):
        # Fill a pattern's braces with plausible values, so many paths come close.
        pattern = draw(st.sampled_from(tables))
        out, inside = [], False
        for char in pattern:
            if char == "{":
                inside = True
                out.append(
                    draw(
                        st.sampled_from(
                            [
                                "7",
                                "1.5",
                                "ab",
                                "x-3",
                                "3b241101-e2bb-4255-8caf-4136c566a962",
                                "a/b",
                                "",
                            ]
                        )
                    )
                )
            elif char == "}":
                inside = False
            elif not inside:
                out.append(char)
        path = "".join(out)
        return path + draw(st.sampled_from(["", "/", "/a"]))
    return "/" + draw(st.text(alphabet=PATH_CHARS, max_size=30))


def endpoint(request: Any) -> None:
    """Routes are told apart by name."""


def outcome(router: Router, method: str, path: str) -> Any:
    try:
        code, target, params = router.resolve(method, path)
    except Exception as exc:
        return ("raised", type(exc))
    if code == FOUND:
        return (code, target.name, {k: (type(v), v) for k, v in params.items()})
    return (code, target, params)


@settings(
    max_examples=int(os.environ.get("BARE_HYPOTHESIS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_compiled_and_pure_agree(data: Any) -> None:
    from bare import _router, _router_py

    routers = [Router(matcher_class=_router.Matcher), Router(matcher_class=_router_py.Matcher)]
    accepted: list[str] = []
    for index, (method, pattern) in enumerate(
        data.draw(st.lists(st.tuples(st.sampled_from(METHODS), patterns()), max_size=12))
    ):
        errors = set()
        for router in routers:
            try:
                router.add_route(pattern, endpoint, [method], name=f"r{index}")
            except RouteError as exc:
                errors.add(type(exc))
        assert len(errors) != 1 or len(routers[0].routes) == len(routers[1].routes)
        if not errors:
            accepted.append(pattern)
    for path in data.draw(st.lists(request_paths(accepted), min_size=1, max_size=8)):
        for method in ("GET", "POST", "HEAD", "OPTIONS"):
            compiled, pure = (outcome(router, method, path) for router in routers)
            assert compiled == pure, (method, path, accepted)
            event(f"code {compiled[0]}")
