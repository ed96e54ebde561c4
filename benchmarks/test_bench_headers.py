"""Header codec benchmarks, compiled (`[c]`) against pure (`[py]`) in one group each.

A call is one request's worth of work on realistic data: a view over the 12 headers
Firefox sends for a page load plus lookups, one `Cookie` header of 6 cookies, or 5
typical response headers. One round makes CALLS calls on distinct inputs, so the
harness's own overhead is spread thin; pytest-benchmark's figures are per round and
`extra_info["calls"]` holds the divisor, as in test_bench_router.py. Every test checks
its answers, so `pytest benchmarks --benchmark-disable` is a correctness test too.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

CALLS = 100


def browser_request(n: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"shop.example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"referer", b"https://shop.example.com/cart/%d" % n),
        (b"connection", b"keep-alive"),
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
        (b"cookie", b"session=3b241101e2bb%04d; theme=dark" % n),
        (b"cache-control", b"max-age=0"),
    ]


def cookie_header(n: int) -> str:
    return (
        f'session=3b241101e2bb42558caf4136c566{n:04d}; csrftoken=Xy7pQ2vLk9; theme="dark"; '
        "lang=en-US; _ga=GA1.2.1234567890.1700000000; consent=yes"
    )


def response_headers(n: int) -> list[tuple[str, str]]:
    return [
        ("content-type", "text/html; charset=utf-8"),
        ("content-length", str(5000 + n)),
        ("cache-control", "no-store"),
        ("set-cookie", f"session=3b241101e2bb{n:04d}; HttpOnly; SameSite=Lax; Path=/"),
        ("x-request-id", f"3b241101-e2bb-4255-8caf-4136c566{n:04d}"),
    ]


REQUESTS = [browser_request(n) for n in range(CALLS)]
COOKIES = [cookie_header(n) for n in range(CALLS)]
RESPONSES = [response_headers(n) for n in range(CALLS)]


def measure(benchmark: Any, headers_module: ModuleType, scenario: str, run: Any) -> Any:
    impl = "py" if headers_module.__name__.endswith("_py") else "c"
    benchmark.extra_info.update(scenario=scenario, impl=impl, calls=CALLS)
    return benchmark(run)


@pytest.mark.benchmark(group=f"Headers(raw) + get('cookie'), 12 headers ({CALLS} calls/round)")
def test_view_and_one_lookup(benchmark: Any, headers_module: ModuleType) -> None:
    Headers = headers_module.Headers

    def run() -> list[str | None]:
        return [Headers(raw).get("cookie") for raw in REQUESTS]

    answers = measure(benchmark, headers_module, "view+1", run)
    assert answers == [f"session=3b241101e2bb{n:04d}; theme=dark" for n in range(CALLS)]


@pytest.mark.benchmark(group=f"Headers(raw) + 3 lookups, 12 headers ({CALLS} calls/round)")
def test_view_and_three_lookups(benchmark: Any, headers_module: ModuleType) -> None:
    Headers = headers_module.Headers

    def run() -> list[tuple[str | None, ...]]:
        answers = []
        for raw in REQUESTS:
            headers = Headers(raw)
            answers.append(
                (headers.get("User-Agent"), headers.get("accept-language"), headers.get("cookie"))
            )
        return answers

    answers = measure(benchmark, headers_module, "view+3", run)
    assert len(answers) == CALLS
    for n, (user_agent, language, cookie) in enumerate(answers):
        assert user_agent is not None and user_agent.startswith("Mozilla/5.0")
        assert language == "en-US,en;q=0.5"
        assert cookie == f"session=3b241101e2bb{n:04d}; theme=dark"


@pytest.mark.benchmark(group=f"parse_cookie, 6 cookies ({CALLS} calls/round)")
def test_parse_cookie(benchmark: Any, headers_module: ModuleType) -> None:
    parse_cookie = headers_module.parse_cookie

    def run() -> list[dict[str, str]]:
        return [parse_cookie(header) for header in COOKIES]

    answers = measure(benchmark, headers_module, "cookie", run)
    for n, cookies in enumerate(answers):
        assert list(cookies) == ["session", "csrftoken", "theme", "lang", "_ga", "consent"]
        assert cookies["session"].endswith(f"{n:04d}")
        assert cookies["theme"] == "dark"


@pytest.mark.benchmark(group=f"encode_headers, 5 response headers ({CALLS} calls/round)")
def test_encode_headers(benchmark: Any, headers_module: ModuleType) -> None:
    encode_headers = headers_module.encode_headers

    def run() -> list[list[tuple[bytes, bytes]]]:
        return [encode_headers(headers) for headers in RESPONSES]

    answers = measure(benchmark, headers_module, "encode", run)
    assert answers == [[(n.encode(), v.encode()) for n, v in pairs] for pairs in RESPONSES]
