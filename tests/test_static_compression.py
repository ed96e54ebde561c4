"""Static files behind CompressionMiddleware, on a real uvicorn server: compressed when
that helps and the client allows it, never twice, never for ranges, and the weak ETag
the compressed answer carries still earns a 304."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest

from servers import uvicorn


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    for address in uvicorn("apps.static_compressed:app"):
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            yield client


def raw(client: httpx.Client, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent, not decoded."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_file_is_compressed_when_the_client_accepts_it(client: httpx.Client) -> None:
    from apps.static_compressed import LARGE, PAGE

    for path, original in (("/static/page.html", PAGE), ("/static/large.txt", LARGE)):
        response, body = raw(client, path, **{"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        assert gzip.decompress(body) == original
        assert len(body) < len(original) // 4
        # The bytes differ from the file's, so the tag cannot stay strong.
        assert response.headers["etag"].startswith('W/"')


def test_no_compression_for_a_client_that_does_not_ask(client: httpx.Client) -> None:
    from apps.static_compressed import PAGE

    response, body = raw(client, "/static/page.html", **{"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert body == PAGE
    assert response.headers["content-length"] == str(len(PAGE))
    assert response.headers["etag"].startswith('"')


def test_a_precompressed_sibling_is_not_compressed_again(client: httpx.Client) -> None:
    from apps.static_compressed import SCRIPT, SCRIPT_GZ

    response, body = raw(client, "/static/app.js", **{"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert body == SCRIPT_GZ  # the sibling's own bytes, not a second gzip around them
    assert gzip.decompress(body) == SCRIPT


def test_a_range_is_never_compressed(client: httpx.Client) -> None:
    from apps.static_compressed import LARGE

    response, body = raw(
        client, "/static/large.txt", **{"accept-encoding": "gzip", "range": "bytes=100-199"}
    )
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert response.headers["content-range"] == f"bytes 100-199/{len(LARGE)}"
    assert body == LARGE[100:200]


def test_the_weak_etag_of_a_compressed_answer_earns_a_304(client: httpx.Client) -> None:
    first, _ = raw(client, "/static/page.html", **{"accept-encoding": "gzip"})
    again, body = raw(
        client,
        "/static/page.html",
        **{"accept-encoding": "gzip", "if-none-match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert body == b""
    # If-Range compares strongly: a weak tag never matches, so the whole file comes back.
    ranged, _ = raw(
        client,
        "/static/page.html",
        **{"range": "bytes=0-9", "if-range": first.headers["etag"], "accept-encoding": "identity"},
    )
    assert ranged.status_code == 200
