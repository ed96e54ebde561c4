"""Smoke-test an installed bare: run by scripts/check_dist.py inside a fresh venv.

Usage: VENV/bin/python dist_smoke.py compiled|pure VERSION

Run from a directory outside the checkout, with nothing but bare installed: it checks that
the bare it imports is the venv's, of the expected version and build (compiled modules live,
or the pure twins), then serves a small app through bare.testing.TestClient (a route with an
int parameter and a query, a JSON body and a malformed one, a 404, a 405). Only the standard
library and bare are imported, and the script prints one line on success; any failure exits
with a message that names what was expected.
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any


def expect(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"dist_smoke: {message}")


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("compiled", "pure"):
        sys.exit(__doc__)
    build, version = sys.argv[1], sys.argv[2]

    import bare
    from bare import Bare, Request
    from bare.testing import TestClient

    where = Path(bare.__file__).resolve()
    expect(
        where.is_relative_to(Path(sys.prefix).resolve()),
        f"imported bare from {where}, not from the venv {sys.prefix}",
    )
    expect(bare.__version__ == version, f"bare {bare.__version__} installed, {version} expected")
    kinds = bare.implementations()
    wanted = "c" if build == "compiled" else "py"
    expect(
        bare.COMPILED is (build == "compiled") and set(kinds.values()) == {wanted},
        f"a {build} bare expected, got COMPILED={bare.COMPILED} {kinds}",
    )
    if build == "compiled":
        from bare import _headers, _router

        for module in (_router, _headers):
            expect(
                str(module.__file__).endswith(tuple(EXTENSION_SUFFIXES)),
                f"{module.__name__} is {module.__file__}, not a compiled module",
            )

    app = Bare()

    @app.get("/items/{item_id:int}")
    async def item(request: Request) -> dict[str, Any]:
        return {"id": request.path_params["item_id"], "q": request.query("q")}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {"got": await request.json()}

    client = TestClient(app)
    checks = [
        (client.get("/items/42?q=caf%C3%A9"), 200, {"id": 42, "q": "café"}),
        (client.get("/items/forty-two"), 404, {"detail": "Not Found"}),
        (client.get("/nowhere"), 404, {"detail": "Not Found"}),
        (client.post("/echo", json={"a": [1, None]}), 200, {"got": {"a": [1, None]}}),
        (
            client.post("/echo", content=b"{bad", headers={"content-type": "application/json"}),
            400,
            {"detail": "Request body is not valid JSON"},
        ),
        (client.get("/echo"), 405, {"detail": "Method Not Allowed"}),
    ]
    for response, status, body in checks:
        what = f"{response.request.method} {response.url}"
        expect(response.status_code == status, f"{what}: {response.status_code}, not {status}")
        expect(response.json() == body, f"{what}: {response.text!r}, not {body}")
        content_type = response.headers.get("content-type")
        expect(content_type == "application/json", f"{what}: content-type {content_type!r}")
    allow = checks[-1][0].headers.get("allow", "")
    expect("POST" in allow.split(", "), f"405 with Allow {allow!r}, POST expected")

    print(f"dist_smoke: bare {bare.__version__} ({build}: {kinds}) from {where.parent}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
