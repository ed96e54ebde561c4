"""A quick test of the over-HTTP comparison (benchmarks/compare/http_bench.py), without wrk:
the floor and bare compiled served by uvicorn answer every scenario right, the wrk
report parser reads real wrk 4.1 output, and the Lua scripts carry the exact bytes."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.compare import http_bench  # noqa: E402
from benchmarks.compare.scenarios import (  # noqa: E402
    SCENARIOS,
    check_over_http,
    contestant,
    scenario,
)

# Recorded from Debian's wrk 4.1 against uvicorn on this project's test machine.
WRK_HELLO = """\
Running 3s test @ http://127.0.0.1:18731/hello
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.43ms    3.06ms  56.01ms   82.93%
    Req/Sec    14.98k     1.76k   17.80k    73.33%
  Latency Distribution
     50%    3.42ms
     75%    6.27ms
     90%    8.26ms
     99%   12.39ms
  44793 requests in 3.01s, 5.64MB read
Requests/sec:  14903.81
Transfer/sec:      1.88MB
"""
WRK_404 = """\
Running 2s test @ http://127.0.0.1:18731/nope
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.89ms    3.39ms  42.77ms   78.00%
    Req/Sec    13.52k     3.27k   17.81k    55.00%
  Latency Distribution
     50%    4.24ms
     75%    6.61ms
     90%    9.39ms
     99%   15.23ms
  26973 requests in 2.01s, 3.45MB read
  Non-2xx or 3xx responses: 26973
Requests/sec:  13438.30
Transfer/sec:      1.72MB
"""
WRK_TIMEOUTS = """\
Running 2s test @ http://127.0.0.1:18732/slow
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     2.00      0.00     2.00    100.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  4 requests in 2.07s, 480.00B read
  Socket errors: connect 0, read 0, write 0, timeout 4
Requests/sec:      1.94
Transfer/sec:     232.28B
"""


def test_parse_wrk_reads_rate_latency_and_count() -> None:
    result = http_bench.parse_wrk(WRK_HELLO)
    assert result.requests == 44793
    assert result.seconds == pytest.approx(3.01)
    assert result.requests_per_second == pytest.approx(14903.81)
    assert (result.p50_ms, result.p75_ms, result.p90_ms, result.p99_ms) == pytest.approx(
        (3.42, 6.27, 8.26, 12.39)
    )
    assert result.non_2xx == 0
    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}


def test_parse_wrk_counts_non_2xx_and_socket_errors() -> None:
    assert http_bench.parse_wrk(WRK_404).non_2xx == 26973
    timeouts = http_bench.parse_wrk(WRK_TIMEOUTS)
    assert timeouts.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 4}
    assert timeouts.p99_ms == 0.0  # microseconds converted too
    assert timeouts.requests == 4


@pytest.mark.parametrize("unit, factor", [("us", 0.001), ("ms", 1.0), ("s", 1000.0)])
def test_parse_wrk_converts_latency_units(unit: str, factor: float) -> None:
    text = WRK_HELLO.replace("12.39ms", f"12.39{unit}")
    assert http_bench.parse_wrk(text).p99_ms == pytest.approx(12.39 * factor)


@pytest.mark.parametrize("line", ["50%", "99%", "requests in", "Requests/sec"])
def test_parse_wrk_refuses_a_report_missing_a_figure(line: str) -> None:
    cut = "\n".join(row for row in WRK_HELLO.splitlines() if line not in row)
    with pytest.raises(ValueError, match=re.escape(line)):
        http_bench.parse_wrk(cut)


def _unlua(literal: str) -> bytes:
    """The bytes of a Lua string literal as `_lua_string` writes them."""
    assert literal[0] == literal[-1] == '"'
    return re.sub(rb"\\(\d{3})", lambda m: bytes([int(m[1])]), literal[1:-1].encode("ascii"))


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_lua_script_sends_the_scenarios_exact_request(name: str) -> None:
    probe = scenario(name)
    script = http_bench.lua_script(probe)
    assignments = dict(
        re.fullmatch(r"(wrk\.\w+(?:\[\"[^\"]*\"\])?) = (\".*\")", line).groups()  # type: ignore[union-attr]
        for line in script.splitlines()
    )
    assert _unlua(assignments["wrk.method"]) == probe.method.encode()
    assert _unlua(assignments["wrk.path"]) == probe.target.encode()
    assert _unlua(assignments.get("wrk.body", '""')) == probe.body
    headers = {k: _unlua(v) for k, v in assignments.items() if k.startswith("wrk.headers")}
    assert headers == {f'wrk.headers["{n}"]': v.encode() for n, v in probe.headers}


def test_lua_string_escapes_quotes_backslashes_and_control_bytes() -> None:
    hostile = b'a"b\\c\r\n\x00\xff]]--'
    literal = http_bench._lua_string(hostile)
    assert literal.isascii() and "\n" not in literal and "\r" not in literal
    assert _unlua(literal) == hostile


def _record(round_: int, who: str, rate: float, cpu: float) -> dict[str, object]:
    return {
        "round": round_,
        "scenario": "hello",
        "contestant": who,
        "requests_per_second": rate,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "cpu_us_per_request": cpu,
    }


def test_summarize_pairs_each_round_with_its_floor() -> None:
    floor = http_bench.FLOOR
    records = [
        _record(1, floor, 1000.0, 20.0),
        _record(1, "bare(c)", 900.0, 25.0),
        _record(2, floor, 500.0, 20.0),  # a slow round for both
        _record(2, "bare(c)", 475.0, 20.0),
        _record(3, floor, 1000.0, 20.0),
        _record(3, "bare(c)", 920.0, 40.0),
    ]
    bare = http_bench.summarize(records)["hello"]["bare(c)"]
    assert bare["ratio"] == pytest.approx(0.92)  # median of 0.90, 0.95, 0.92
    assert bare["cpu_ratio"] == pytest.approx(0.8)  # median of 0.8, 1.0, 0.5
    assert bare["requests_per_second"] == 900.0
    assert http_bench.summarize(records)["hello"][floor]["ratio"] == 1.0


def test_a_run_with_wrong_answers_is_refused() -> None:
    hello, not_found = scenario("hello"), scenario("404")
    who = contestant("bare(c)")
    bad = http_bench.parse_wrk(WRK_404)  # every answer a non-2xx
    with pytest.raises(RuntimeError, match="not of the expected status 200"):
        http_bench._refuse_wrong(bad, hello, who)
    http_bench._refuse_wrong(bad, not_found, who)  # what the 404 expects
    with pytest.raises(RuntimeError, match="not of the expected status 404"):
        http_bench._refuse_wrong(http_bench.parse_wrk(WRK_HELLO), not_found, who)


@pytest.fixture(scope="module")
def uploads() -> Iterator[str]:
    with http_bench.upload_directory() as path:
        yield path


@pytest.mark.parametrize("name", ["raw", "bare(c)"])
def test_served_app_answers_every_scenario(name: str, uploads: str) -> None:
    who = contestant(name)
    assert who.scenarios == {s.name for s in SCENARIOS}
    with http_bench.serve(who) as server:
        check_over_http(f"http://{server.address}", who)
        assert http_bench._cpu_seconds(server.process.pid) > 0
    assert server.process.returncode is not None  # stopped
    assert list(Path(uploads).iterdir()) == []  # the check removed what was written


def test_charts_are_drawn_from_the_results_and_copied_for_the_docs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks.compare import charts

    floor = http_bench.FLOOR
    records = [_record(1, floor, 1000.0, 20.0), _record(1, "bare(c)", 950.0, 21.0)]
    summary = http_bench.summarize(records)
    http = {"floor": floor, "contestants": [floor, "bare(c)"], "summary": summary}
    (tmp_path / "http.json").write_text(json.dumps(http))
    inprocess = {
        "results": {floor: {"hello": {"ratio": 1.0}}, "bare(c)": {"hello": {"ratio": 2.5}}}
    }
    (tmp_path / "inprocess.json").write_text(json.dumps(inprocess))
    written = charts.write_charts(tmp_path, tmp_path / "docs")
    names = ["http-ratio.png", "http-cpu-ratio.png", "inprocess-ratio.png"]
    assert [path.name for path in written] == names
    for name in names:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
        assert (tmp_path / "docs" / name).read_bytes() == data
