"""What the `etag` route option costs a JSON handler: a ~1 KB and a ~20 KB dict answered
without the option, with it (a 200 that gains an ETag: the body is hashed), and with it
and a matching `If-None-Match` (a 304: hashed, compared, no body sent).

Driven in process as `test_bench_app.py` does (see `_driver.py`); each round is `CALLS`
requests. Run as a script to get the medians per request and the ratios in one table:

    python benchmarks/test_bench_conditional.py                 # runs this module
    python benchmarks/test_bench_conditional.py results.json    # a --benchmark-json file

Other arguments go to pytest (`--benchmark-max-time=1`, say).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _driver import SCOPE, Call, Client

CALLS = 200
GROUP = "conditional-json"
HERE = Path(__file__).resolve().parent

SIZES = {
    "1KB": {"items": [{"id": i, "name": f"item {i}", "done": i % 2 == 0} for i in range(26)]},
    "20KB": {"items": [{"id": i, "name": f"item {i}", "done": i % 2 == 0} for i in range(520)]},
}
CASES = ["off", "on-200", "on-304"]


def _answering(data: dict[str, Any]) -> Any:
    """A plain handler that answers `data`."""

    async def handler(request: Any) -> dict[str, Any]:
        return data

    return handler


def make_app() -> Any:
    from bare import Bare

    app = Bare()
    for size, data in SIZES.items():
        handler = _answering(data)
        app.add_route(f"/plain/{size}", handler, name=f"plain-{size}")
        app.add_route(f"/etag/{size}", handler, name=f"etag-{size}", etag=True)
    return app


def _template(if_none_match: str | None) -> dict[str, Any]:
    if if_none_match is None:
        return SCOPE
    return {**SCOPE, "headers": [*SCOPE["headers"], (b"if-none-match", if_none_match.encode())]}


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", list(SIZES))
def test_conditional_json(
    benchmark: Any, serve: Callable[..., Client], size: str, case: str
) -> None:
    from bare._json import dumps
    from bare.conditional import etag_for

    body = dumps(SIZES[size])
    assert abs(len(body) - int(size.removesuffix("KB")) * 1024) < 1024, len(body)
    tag = etag_for(body)
    path = f"/plain/{size}" if case == "off" else f"/etag/{size}"
    client = serve(f"{case}-{size}", make_app, _template(tag if case == "on-304" else None))
    expected = (304, b"") if case == "on-304" else (200, body)
    request: Call = (path, path.encode(), *expected)
    status, sent, headers = client.probe(request)
    assert (status, sent) == expected
    assert headers.get("etag") == (None if case == "off" else tag)
    benchmark.extra_info.update(case=case, size=size, calls=CALLS, body=len(body))
    benchmark(lambda: client.run([request] * CALLS))


def report(results: dict[str, Any]) -> str:
    """Medians per request and the ratios to the option off, as Markdown."""
    times = {
        (b["extra_info"]["size"], b["extra_info"]["case"]): b["stats"]["median"] / CALLS
        for b in results["benchmarks"]
    }
    lines = [
        "| body | off, µs | on (200), µs | on/off | on (304), µs | 304/off |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        off, on, hit = (times[(size, case)] for case in CASES)
        lines.append(
            f"| {size} | {off * 1e6:.2f} | {on * 1e6:.2f} | {on / off:.2f} "
            f"| {hit * 1e6:.2f} | {hit / off:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv and argv[0].endswith(".json"):
        print(report(json.loads(Path(argv[0]).read_text())))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = [sys.executable, "-m", "pytest", __file__, "--benchmark-only", "-q"]
        command += [f"--benchmark-json={out}", "-p", "no:cacheprovider", *argv]
        subprocess.run(command, cwd=HERE.parent, check=True, stdout=sys.stderr)
        print(report(json.loads(out.read_text())))


if __name__ == "__main__":
    main(sys.argv[1:])
