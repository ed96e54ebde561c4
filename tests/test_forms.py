"""`await request.form()`: urlencoded and multipart bodies, `FormData`, `UploadFile`, every
form limit just under and just over, hostile bodies, file names and clean-up.

Almost everything goes through the public API with `TestClient`; the clean-up tests drive
the app with a hand-made `receive` (see tests/conftest.py's `call`). Real servers:
tests/test_forms_live.py.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bare import Bare, HTTPException, Request
from bare.forms import FormData, FormLimits, UploadFile, safe_filename
from bare.headers import Headers
from bare.testing import TestClient
from conftest import Reply

B = "Xy7-boundary"
MULTIPART = f"multipart/form-data; boundary={B}"
URLENCODED = "application/x-www-form-urlencoded"
END = f"--{B}--\r\n".encode()


def part(
    name: str | None = "field",
    value: bytes = b"",
    *,
    filename: str | None = None,
    content_type: str | None = None,
    extra: tuple[str, ...] = (),
    head: bytes | None = None,
) -> bytes:
    """One multipart part; `head` replaces the whole header section (raw bytes)."""
    if head is None:
        disposition = "form-data"
        if name is not None:
            disposition += f'; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        lines = [f"Content-Disposition: {disposition}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines += extra
        head = "".join(line + "\r\n" for line in lines).encode()
    return f"--{B}\r\n".encode() + head + b"\r\n" + value + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + END


async def describe(value: str | UploadFile) -> Any:
    if isinstance(value, str):
        return value
    return {
        "filename": value.filename,
        "safe": value.safe_filename,
        "size": value.size,
        "type": value.content_type,
        "content": (await value.read()).decode("latin-1"),
        "headers": value.headers.items(),
    }


def call_limits(request: Request) -> dict[str, Any]:
    """Form limits for this call, from the query string (`none` is None)."""
    return {
        name: None if values[0] == "none" else int(values[0])
        for name, values in request.query_params.items()
    }


def make_app(**options: Any) -> Bare:
    app = Bare(**options)

    @app.post("/form")
    async def echo(request: Request) -> Any:
        form = await request.form(**call_limits(request))
        return [[name, await describe(value)] for name, value in form.multi_items()]

    @app.post("/limited", form_limits=FormLimits(max_fields=2, max_files=1))
    async def limited(request: Request) -> Any:
        form = await request.form(**call_limits(request))
        return len(form.multi_items())

    @app.post("/body-first")
    async def body_first(request: Request) -> Any:
        body = await request.body()
        form = await request.form()
        return [len(body), [[name, await describe(value)] for name, value in form.multi_items()]]

    @app.post("/twice")
    async def twice(request: Request) -> Any:
        first = await request.form()
        second = await request.form(max_fields=0)  # read already: the limits do not apply
        return [first is second, len(second)]

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app())


def post(
    client: TestClient, body: bytes, content_type: str = MULTIPART, path: str = "/form"
) -> Any:
    return client.post(path, content=body, headers={"content-type": content_type})


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["detail"]


# -- urlencoded ---------------------------------------------------------------------------


def test_urlencoded_fields_in_order_with_repeats(client: TestClient) -> None:
    response = client.post("/form", data=[("a", "1"), ("b", "two words"), ("a", "3")])
    assert response.status_code == 200
    assert response.json() == [["a", "1"], ["b", "two words"], ["a", "3"]]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"", [], id="empty"),
        pytest.param(b"a=1&&b=2&", [["a", "1"], ["b", "2"]], id="empty_pieces"),
        pytest.param(b"flag&x=", [["flag", ""], ["x", ""]], id="no_equals"),
        pytest.param(b"a+b=c+d", [["a b", "c d"]], id="plus"),
        pytest.param(b"%41%2B=%26%3D%25", [["A+", "&=%"]], id="escapes"),
        pytest.param(b"a=%zz%4&b=%", [["a", "%zz%4"], ["b", "%"]], id="broken_escapes"),
        pytest.param(b"a=1;b=2", [["a", "1;b=2"]], id="semicolon_is_no_separator"),
        pytest.param(b"=v&==", [["", "v"], ["", "="]], id="empty_names"),
        pytest.param("n=%C3%A9t%C3%A9&é=ü".encode(), [["n", "été"], ["é", "ü"]], id="utf8"),
        pytest.param(b"a=%00", [["a", "\x00"]], id="nul"),
    ],
)
def test_urlencoded_decoding(client: TestClient, body: bytes, expected: list[Any]) -> None:
    response = post(client, body, URLENCODED)
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    "body", [b"a=%FF", b"%C3=1", b"a=\xff", b"\xc3(=x", b"a=%ED%A0%80"], ids=str
)
def test_urlencoded_text_must_be_utf8(client: TestClient, body: bytes) -> None:
    assert error(post(client, body, URLENCODED)) == (400, "Form data is not valid UTF-8")


@pytest.mark.parametrize(
    ("limit", "make", "message"),
    [
        pytest.param(
            "max_fields",
            lambda n: "&".join(f"f{i}=v" for i in range(n)).encode(),
            "Too many form fields (max_fields={n})",
            id="fields",
        ),
        pytest.param(
            "max_part_size",
            lambda n: b"v=" + b"x" * n,
            "Form field too large (max_part_size={n} bytes)",
            id="part_size",
        ),
        pytest.param(
            "max_part_size",
            lambda n: b"v=" + b"%41" * n,  # decoded bytes count, not escapes
            "Form field too large (max_part_size={n} bytes)",
            id="part_size_escaped",
        ),
        pytest.param(
            "max_field_name_length",
            lambda n: "é".encode() * (n // 2) + b"a" * (n % 2) + b"=v",
            "Field name too long (max_field_name_length={n} bytes)",
            id="name_length",
        ),
    ],
)
@pytest.mark.parametrize("n", [1, 7, 100])
def test_urlencoded_limits_just_under_and_over(
    client: TestClient, limit: str, make: Callable[[int], bytes], message: str, n: int
) -> None:
    under = post(client, make(n), URLENCODED, f"/form?{limit}={n}")
    assert under.status_code == 200, under.text
    over = post(client, make(n + 1), URLENCODED, f"/form?{limit}={n}")
    assert error(over) == (413, message.format(n=n))


def test_urlencoded_default_field_limit(client: TestClient) -> None:
    def body(n: int) -> bytes:
        return "&".join(f"f{i}={i}" for i in range(n)).encode()

    assert len(post(client, body(1000), URLENCODED).json()) == 1000
    response = post(client, body(1001), URLENCODED)
    assert error(response) == (413, "Too many form fields (max_fields=1000)")


def test_urlencoded_hostile_bodies_are_read_in_linear_time() -> None:
    # Each is a MiB: anything quadratic would take hours, and pytest-timeout stops it.
    client = TestClient(make_app(max_body_size=4 * 1024 * 1024))
    mib = 1024 * 1024
    assert post(client, b"&" * mib, URLENCODED).json() == []
    only_name = post(client, b"%" * mib, URLENCODED, "/form?max_field_name_length=2000000")
    assert only_name.json() == [["%" * mib, ""]]
    pairs = post(client, b"=&" * (mib // 2), URLENCODED)
    assert error(pairs) == (413, "Too many form fields (max_fields=1000)")
    value = post(client, b"a=" + b"%41" * (mib // 3), URLENCODED, f"/form?max_part_size={mib}")
    assert value.json() == [["a", "A" * (mib // 3)]]


# -- content types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["", "text/plain", "application/json", "multipart/mixed; boundary=x", "form-data"],
    ids=["missing", "text", "json", "mixed", "bare_word"],
)
def test_other_content_types_are_415(content_type: str) -> None:
    client = TestClient(make_app())
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/form", content=b"a=1", headers=headers)
    assert error(response) == (
        415,
        "Content-Type must be application/x-www-form-urlencoded or multipart/form-data",
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded ;charset=UTF-8",
    ],
    ids=["case", "charset", "spaces"],
)
def test_urlencoded_media_type_in_any_case(client: TestClient, content_type: str) -> None:
    assert post(client, b"a=1", content_type).json() == [["a", "1"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param("", "Content-Type multipart/form-data needs a boundary parameter", id="none"),
        pytest.param(
            "; charset=utf-8",
            "Content-Type multipart/form-data needs a boundary parameter",
            id="other_param",
        ),
        pytest.param(
            "; boundary=",
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="empty",
        ),
        pytest.param(
            '; boundary=""',
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="empty_quoted",
        ),
        pytest.param(
            "; boundary=" + "a" * 71,
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="too_long",
        ),
        pytest.param(
            "; boundary=ab@cd",
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="not_a_bchar",
        ),
        pytest.param(
            '; boundary="abc "',
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="trailing_space",
        ),
        pytest.param(
            '; boundary="a"b"',
            "Invalid multipart boundary (RFC 2046: 1 to 70 characters)",
            id="quote_inside",
        ),
        pytest.param(
            "; boundary=a; Boundary=b",
            "Content-Type has more than one multipart boundary",
            id="twice",
        ),
        pytest.param(
            "; boundary=a; boundary=a",
            "Content-Type has more than one multipart boundary",
            id="twice_same",
        ),
    ],
)
def test_bad_boundaries_are_400(client: TestClient, params: str, message: str) -> None:
    response = post(client, b"--a\r\n", "multipart/form-data" + params)
    assert error(response) == (400, message)


@pytest.mark.parametrize(
    "boundary",
    ["a", "z" * 70, "'()+_,-./:=? x", "----WebKitFormBoundary7MA4YWxkTrZu0gW"],
    ids=["one", "seventy", "every_char", "webkit"],
)
def test_valid_boundaries(client: TestClient, boundary: str) -> None:
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--'
    ).encode()
    quoted = post(client, body, f'multipart/form-data; boundary="{boundary}"')
    assert quoted.json() == [["a", "1"]]
    if " " not in boundary:
        assert post(client, body, f"multipart/form-data;boundary={boundary}").json() == [["a", "1"]]


# -- multipart ----------------------------------------------------------------------------


def test_multipart_fields_and_files(client: TestClient) -> None:
    response = client.post(
        "/form",
        data={"title": "Holiday", "tags": ["sea", "sun"]},
        files=[
            ("photo", ("beach.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")),
            ("photo", ("notes.txt", b"hello\r\n--not the boundary", "text/plain")),
        ],
    )
    assert response.status_code == 200
    form = response.json()
    assert [name for name, _ in form] == ["title", "tags", "tags", "photo", "photo"]
    assert form[:3] == [["title", "Holiday"], ["tags", "sea"], ["tags", "sun"]]
    first, second = form[3][1], form[4][1]
    assert first["filename"] == "beach.jpg" and first["safe"] == "beach.jpg"
    assert first["size"] == 9 and first["content"] == "\xff\xd8\xff\xe0 jpeg"
    assert first["type"] == "image/jpeg"
    assert first["headers"] == [
        ["content-disposition", 'form-data; name="photo"; filename="beach.jpg"'],
        ["content-type", "image/jpeg"],
    ]
    assert second["content"] == "hello\r\n--not the boundary" and second["size"] == 25


def test_empty_form_empty_file_and_empty_field(client: TestClient) -> None:
    assert post(client, END).json() == []
    assert post(client, END.rstrip(b"\r\n")).json() == []  # no CRLF after the end: fine
    body = multipart(part("empty", b""), part("file", b"", filename="", content_type=None))
    form = post(client, body).json()
    assert form[0] == ["empty", ""]
    assert form[1][0] == "file"
    assert form[1][1] | {"headers": None} == {
        "filename": "",
        "safe": "upload",
        "size": 0,
        "type": None,
        "content": "",
        "headers": None,
    }


def test_repeated_names_first_value_and_getlist() -> None:
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> Any:
        form = await request.form()
        file = form.getlist("f")[1]
        assert isinstance(file, UploadFile)
        return {
            "item": form["a"],
            "get": form.get("a"),
            "missing": form.get("zzz", "default"),
            "list": form.getlist("a"),
            "none": form.getlist("zzz"),
            "keys": list(form),
            "values": [v if isinstance(v, str) else v.filename for v in form.values()],
            "len": len(form),
            "in": ["a" in form, "zzz" in form, 1 in form],
            "file": file.filename,
        }

    body = multipart(
        part("a", b"1"),
        part("f", b"x", filename="one.txt"),
        part("a", b"2"),
        part("f", b"y", filename="two.txt"),
        part("b", b"3"),
    )
    assert post(TestClient(app), body, path="/").json() == {
        "item": "1",
        "get": "1",
        "missing": "default",
        "list": ["1", "2"],
        "none": [],
        "keys": ["a", "f", "b"],
        "values": ["1", "one.txt", "3"],
        "len": 3,
        "in": [True, False, False],
        "file": "two.txt",
    }


def test_a_field_value_must_be_utf8(client: TestClient) -> None:
    response = post(client, multipart(part("a", b"caf\xe9")))
    assert error(response) == (400, "Form field value is not valid UTF-8")
    # A file is bytes: anything goes.
    response = post(client, multipart(part("a", b"caf\xe9", filename="x.bin")))
    assert response.json()[0][1]["content"] == "caf\xe9"


def test_part_names_and_filenames_are_utf8(client: TestClient) -> None:
    form = post(client, multipart(part("naïve", b"%PDF", filename="résumé €.pdf"))).json()
    assert form[0][0] == "naïve"
    assert form[0][1]["filename"] == "résumé €.pdf" == form[0][1]["safe"]
    bad = b'Content-Disposition: form-data; name="na\xefve"\r\n'
    assert error(post(client, multipart(part(head=bad)))) == (
        400,
        "Multipart part headers are not valid UTF-8",
    )


def test_quoting_of_names_as_browsers_send_it(client: TestClient) -> None:
    # Browsers escape CR, LF and `"` in names as %0D, %0A and %22 (HTML's algorithm).
    form = post(client, multipart(part("a%22b%0D%0Ac", b"1", filename="x%22.txt"))).json()
    assert form[0][0] == 'a"b\r\nc'
    assert form[0][1]["filename"] == 'x".txt' and form[0][1]["safe"] == "x_.txt"


def test_filename_star_is_ignored_as_rfc7578_says(client: TestClient) -> None:
    # RFC 7578 section 4.2: senders must not use RFC 5987's filename*; the parser reads
    # `filename` only, so a part with nothing else is a plain field.
    both = (
        b'Content-Disposition: form-data; name="f"; filename="plain.txt"; '
        b"filename*=UTF-8''%E2%82%AC.txt\r\n"
    )
    form = post(client, multipart(part(head=both, value=b"x"))).json()
    assert form[0][1]["filename"] == "plain.txt"
    only_star = b"Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.txt\r\n"
    assert post(client, multipart(part(head=only_star, value=b"x"))).json() == [["f", "x"]]


def test_a_file_part_is_a_spooled_temporary_file_at_its_start() -> None:
    app = Bare()
    seen: dict[str, Any] = {}

    @app.post("/")
    async def handler(request: Request) -> str:
        form = await request.form()
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        seen["type"] = type(upload.file)
        seen["position"] = upload.file.tell()
        assert await upload.read(3) == b"abc"
        assert await upload.seek(1) == 1
        assert await upload.read() == b"bcdef"
        return "ok"

    assert (
        post(TestClient(app), multipart(part("f", b"abcdef", filename="a")), path="/").text == "ok"
    )
    assert seen == {"type": tempfile.SpooledTemporaryFile, "position": 0}


# -- multipart limits ---------------------------------------------------------------------


def _fields(n: int) -> bytes:
    return multipart(*(part(f"f{i}", b"v") for i in range(n)))


def _files(n: int) -> bytes:
    return multipart(*(part(f"f{i}", b"v", filename=f"{i}.txt") for i in range(n)))


def _headers(n: int) -> bytes:
    return multipart(part("a", b"v", extra=tuple(f"X-Extra-{i}: {i}" for i in range(n - 1))))


def _header_size(n: int) -> bytes:
    # One line: `Content-Disposition: form-data; name="..."` of n bytes.
    fixed = len('Content-Disposition: form-data; name=""')
    return multipart(part("n" * (n - fixed), b"v"))


def _header_sizes(n: int) -> bytes:
    # Several lines summing to n bytes: each counts as name, ": " and value.
    fixed = len('Content-Disposition: form-data; name="a"') + len("X-Pad: ")
    return multipart(part("a", b"v", extra=(f"X-Pad: {'p' * (n - fixed)}",)))


def _name(n: int) -> bytes:
    name = "é" * (n // 2) + "a" * (n % 2)  # bytes count, not characters
    return multipart(part(name, b"v"))


def _file_name(n: int) -> bytes:
    return multipart(part("n" * n, b"v", filename="x.txt"))


LIMITS = [
    pytest.param("max_fields", _fields, "Too many form fields (max_fields={n})", 1, id="fields"),
    pytest.param("max_files", _files, "Too many files (max_files={n})", 1, id="files"),
    pytest.param(
        "max_part_size",
        lambda n: multipart(part("a", b"x" * n)),
        "Form field too large (max_part_size={n} bytes)",
        1,
        id="part_size",
    ),
    pytest.param(
        "max_file_size",
        lambda n: multipart(part("a", b"x" * n, filename="big.bin")),
        "File too large (max_file_size={n} bytes)",
        1,
        id="file_size",
    ),
    pytest.param(
        "max_part_headers",
        _headers,
        "Too many part headers (max_part_headers={n})",
        1,
        id="headers",
    ),
    pytest.param(
        "max_part_header_size",
        _header_size,
        "Part headers too large (max_part_header_size={n} bytes)",
        60,
        id="header_line",
    ),
    pytest.param(
        "max_part_header_size",
        _header_sizes,
        "Part headers too large (max_part_header_size={n} bytes)",
        60,
        id="header_lines",
    ),
    pytest.param(
        "max_field_name_length",
        _name,
        "Field name too long (max_field_name_length={n} bytes)",
        1,
        id="name",
    ),
    pytest.param(
        "max_field_name_length",
        _file_name,
        "Field name too long (max_field_name_length={n} bytes)",
        1,
        id="file_name",
    ),
]


@pytest.mark.parametrize(("limit", "make", "message", "smallest"), LIMITS)
@pytest.mark.parametrize("offset", [0, 1, 40])
def test_multipart_limits_just_under_and_over(
    client: TestClient,
    limit: str,
    make: Callable[[int], bytes],
    message: str,
    smallest: int,
    offset: int,
) -> None:
    n = smallest + offset
    under = post(client, make(n), path=f"/form?{limit}={n}")
    assert under.status_code == 200, under.text
    over = post(client, make(n + 1), path=f"/form?{limit}={n}")
    assert error(over) == (413, message.format(n=n))
    # Said while the upload may still be coming: the server closes the connection after.
    assert over.headers["connection"] == "close"


def test_multipart_default_limits(client: TestClient) -> None:
    assert len(post(client, _fields(1000)).json()) == 1000
    assert error(post(client, _fields(1001))) == (413, "Too many form fields (max_fields=1000)")
    assert len(post(client, _headers(16)).json()) == 1
    assert error(post(client, _headers(17))) == (
        413,
        "Too many part headers (max_part_headers=16)",
    )
    assert len(post(client, _header_size(8192)).json()) == 1
    assert error(post(client, _header_size(8193))) == (
        413,
        "Part headers too large (max_part_header_size=8192 bytes)",
    )


def test_zero_limits(client: TestClient) -> None:
    assert error(post(client, _fields(1), path="/form?max_fields=0"))[0] == 413
    assert post(client, _fields(2), path="/form?max_files=0").status_code == 200
    empty_file = multipart(part("f", b"", filename="e"))
    assert post(client, empty_file, path="/form?max_file_size=0").status_code == 200
    assert error(post(client, empty_file, path="/form?max_files=0"))[0] == 413


def test_the_body_limit_bounds_the_whole_form() -> None:
    client = TestClient(make_app(max_body_size=1000))
    body = multipart(part("a", b"x" * 950, filename="f"))
    assert len(body) > 1000
    too_large = (413, "Request body too large (limit 1000 bytes)")
    assert error(post(client, body)) == too_large
    # Without a Content-Length: counted as it streams.
    response = client.post(
        "/form",
        content=[body[:500], body[500:]],
        headers={"content-type": MULTIPART},
    )
    assert error(response) == too_large
    assert error(post(client, b"a=" + b"x" * 999, URLENCODED)) == too_large
    assert post(client, multipart(part("a", b"x" * 800))).status_code == 200


def test_app_route_and_call_limits() -> None:
    client = TestClient(make_app(form_limits=FormLimits(max_fields=3)))
    assert post(client, _fields(3)).status_code == 200
    assert error(post(client, _fields(4)))[1] == "Too many form fields (max_fields=3)"
    # The route's own limits replace the app's; a call's keywords change the route's.
    assert error(post(client, _fields(3), path="/limited"))[1] == (
        "Too many form fields (max_fields=2)"
    )
    assert post(client, _fields(5), path="/limited?max_fields=5").json() == 5
    assert error(post(client, _files(2), path="/limited?max_fields=5"))[1] == (
        "Too many files (max_files=1)"
    )
    assert error(post(client, b"a=1&b=2&c=3", URLENCODED, "/limited"))[1] == (
        "Too many form fields (max_fields=2)"
    )


def test_an_unknown_call_keyword_names_the_known_ones() -> None:
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> str:
        try:
            await request.form(max_feilds=3)  # type: ignore[call-arg]
        except TypeError as exc:
            return str(exc)
        return "no error"

    text = post(TestClient(app), END, path="/").text
    assert text.startswith("unknown form limit 'max_feilds'; form limits are: ")
    assert "max_fields" in text


def test_the_call_keywords_are_the_limits() -> None:
    # FormLimitArgs exists for type checkers only: read its fields from the source.
    import ast

    import bare.forms

    tree = ast.parse(Path(bare.forms.__file__).read_text())
    (args,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "FormLimitArgs"
    ]
    fields = [item.target.id for item in args.body if isinstance(item, ast.AnnAssign)]  # type: ignore[attr-defined]
    assert fields == list(FormLimits.__slots__) or set(fields) == set(FormLimits().as_dict())
    assert len(fields) == len(FormLimits().as_dict())


def test_many_tiny_parts_stop_at_the_count_limit() -> None:
    client = TestClient(make_app(max_body_size=8 * 1024 * 1024))
    tiny = part("a", b"")
    body = tiny * (8 * 1024 * 1024 // len(tiny) - 1) + END
    assert error(post(client, body)) == (413, "Too many form fields (max_fields=1000)")
    files = part("a", b"", filename="f") * 100_000 + END
    assert error(post(client, files)) == (413, "Too many files (max_files=1000)")


def test_a_huge_header_line_is_refused_before_it_ends() -> None:
    client = TestClient(make_app(max_body_size=16 * 1024 * 1024))
    line = b'Content-Disposition: form-data; name="' + b"n" * (12 * 1024 * 1024)
    chunks = [f"--{B}\r\n".encode(), line]  # the line never ends
    response = client.post(
        "/form",
        content=chunks,
        headers={"content-type": MULTIPART},
    )
    assert error(response) == (413, "Part headers too large (max_part_header_size=8192 bytes)")


# -- malformed multipart ------------------------------------------------------------------

MALFORMED = [
    pytest.param(b"", "Multipart body ended before its final boundary", id="empty"),
    pytest.param(
        part("a", b"1"), "Multipart body ended before its final boundary", id="unterminated"
    ),
    pytest.param(
        part("a", b"1")[:-2], "Multipart body ended before its final boundary", id="cut_in_part"
    ),
    pytest.param(
        f"--{B}\r\nContent-Disposition: form-da".encode(),
        "Multipart body ended before its final boundary",
        id="cut_in_headers",
    ),
    pytest.param(
        multipart(part(head=b"Content-Type: text/plain\r\n")),
        "A multipart part has no Content-Disposition header",
        id="no_disposition",
    ),
    pytest.param(
        multipart(part(None, b"x")),
        "A multipart part has no name",
        id="no_name",
    ),
    pytest.param(
        multipart(part(head=b'Content-Disposition: attachment; name="a"\r\n')),
        "A multipart part's Content-Disposition is not form-data",
        id="not_form_data",
    ),
    pytest.param(
        multipart(part(head=b'Content-Disposition: form-data;\r\n name="a"\r\n')),
        "Multipart part headers may not be folded",
        id="folded",
    ),
    pytest.param(
        multipart(part(head=b"no colon here\r\n")), "Malformed multipart body", id="no_colon"
    ),
    pytest.param(
        multipart(part(head=b'Bad Name: x\r\nContent-Disposition: form-data; name="a"\r\n')),
        "Malformed multipart body",
        id="bad_header_name",
    ),
    pytest.param(
        f'--{B}\nContent-Disposition: form-data; name="a"\n\n1\n--{B}--\n'.encode(),
        "Malformed multipart body",
        id="bare_lf",
    ),
    pytest.param(
        b"x" * 200 + f'\r\n--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1'.encode(),
        "Multipart body does not start with its boundary",
        id="preamble_then_unterminated",
    ),
    pytest.param(
        b"y" * 5000 + multipart(part("a", b"1")),
        "Multipart body does not start with its boundary",
        id="long_preamble",
    ),
    pytest.param(
        multipart(part("a", b"1")).replace(B.encode(), b"Other-boundary"),
        "Multipart body does not start with its boundary",
        id="wrong_boundary",
    ),
    pytest.param(
        f"--{B}x\r\n".encode() + multipart(part("a", b"1")),
        "Malformed multipart body",
        id="boundary_with_suffix",
    ),
    pytest.param(
        multipart(part("a", b"12345", extra=("Content-Length: 3",))),
        "Malformed multipart body",
        id="part_length_short",
    ),
    pytest.param(
        multipart(part("a", b"1", extra=("Content-Length: 3",))),
        "Malformed multipart body",
        id="part_length_long",
    ),
    pytest.param(
        multipart(part("a", b"1", extra=("Content-Length: -1",))),
        "Malformed multipart body",
        id="part_length_negative",
    ),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_multipart_is_400(client: TestClient, body: bytes, message: str) -> None:
    response = post(client, body)
    assert error(response) == (400, message)


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_multipart_is_400_byte_by_byte(
    client: TestClient, body: bytes, message: str
) -> None:
    # The same verdict whatever the chunks (a parser that buffers per chunk could differ).
    chunks = [body[i : i + 1] for i in range(len(body))] or [b""]
    response = client.post("/form", content=chunks, headers={"content-type": MULTIPART})
    assert error(response) == (400, message)


def test_messages_never_echo_the_client(client: TestClient) -> None:
    hostile = "<script>alert(1)</script>\x1b[31m"
    bodies = [
        multipart(part(hostile, b"\xff")),
        multipart(part(hostile, b"x" * 10)),
        multipart(part(head=f"{hostile}: x\r\n".encode())),
        (hostile + "=%FF").encode(),
    ]
    for body in bodies:
        content_type = URLENCODED if body.startswith(b"<") else MULTIPART
        response = post(client, body, content_type, "/form?max_part_size=5")
        assert response.status_code in (400, 413)
        assert "script" not in response.text and "\x1b" not in response.text


def test_bytes_after_the_final_boundary_are_ignored_in_any_chunk(client: TestClient) -> None:
    body = multipart(part("a", b"1"))
    epilogue = b"epilogue, as RFC 2046 allows\r\n"
    for split in range(len(body) - 8, len(body) + 1):
        chunks = [body[:split], body[split:] + epilogue]
        response = client.post(
            "/form",
            content=[c for c in chunks if c],
            headers={"content-type": MULTIPART},
        )
        assert response.json() == [["a", "1"]], split
    assert post(client, body + epilogue * 1000).json() == [["a", "1"]]


def test_a_preamble_is_refused_and_a_leading_crlf_accepted(client: TestClient) -> None:
    body = multipart(part("a", b"1"))
    refused = (400, "Multipart body does not start with its boundary")
    assert error(post(client, b"A preamble.\r\n" + body)) == refused
    assert error(post(client, b"\r\n\r\n" + body)) == refused
    assert post(client, b"\r\n" + body).json() == [["a", "1"]]
    # Whatever the chunks.
    for split in range(1, len(B) + 6):
        chunks = [(b"\r\n" + body)[:split], (b"\r\n" + body)[split:]]
        response = client.post("/form", content=chunks, headers={"content-type": MULTIPART})
        assert response.json() == [["a", "1"]], split


def test_hostile_multipart_bodies_are_read_in_linear_time() -> None:
    # A MiB each; pytest-timeout stops anything quadratic.
    client = TestClient(make_app(max_body_size=4 * 1024 * 1024))
    mib = 1024 * 1024
    near_misses = (f"\r\n--{B[:-1]}".encode() * (mib // (len(B) + 3)))[:mib]
    upload = multipart(part("f", near_misses, filename="f"))
    assert post(client, upload).json()[0][1]["size"] == len(near_misses)
    crs = multipart(part("f", b"\r" * mib, filename="f"))
    assert post(client, crs).json()[0][1]["size"] == mib
    dashes = multipart(part("f", b"-" * mib, filename="f"))
    assert post(client, dashes).json()[0][1]["size"] == mib
    assert error(post(client, b"\r\n" * (mib // 2)))[0] == 400
    headers = multipart(part("a", b"", extra=("X-A: " + "b" * 8000,) * 15))
    assert error(post(client, headers))[0] == 413


FUZZ_BODY = multipart(
    part("title", "été".encode()),
    part("file", b"\x00\r\n--" + B.encode()[:-1] + b"\r\x89", filename="a b.bin"),
    part("tags", b"x"),
)


@settings(
    max_examples=int(os.environ.get("BARE_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["cut", "insert", "delete", "flip"]),
            st.integers(0, len(FUZZ_BODY)),
            st.binary(max_size=8)
            | st.sampled_from([b"\r\n", b"--", B.encode(), b"\r\n--" + B.encode(), b'"', b":"]),
        ),
        max_size=4,
    ),
    splits=st.lists(st.integers(1, len(FUZZ_BODY)), max_size=6),
)
def test_a_mangled_multipart_body_is_never_a_500(
    client: TestClient, edits: list[tuple[str, int, bytes]], splits: list[int]
) -> None:
    body = FUZZ_BODY
    for kind, at, data in edits:
        at = min(at, len(body))
        if kind == "cut":
            body = body[:at]
        elif kind == "insert":
            body = body[:at] + data + body[at:]
        elif kind == "delete":
            body = body[:at] + body[at + len(data) :]
        elif body:
            body = body[:at] + bytes([body[min(at, len(body) - 1)] ^ 0x20]) + body[at + 1 :]
    cuts = sorted({0, *(s for s in splits if s < len(body)), len(body)})
    chunks = [body[a:b] for a, b in pairwise(cuts) if b > a] or [b""]
    response = client.post(
        "/form?max_part_headers=3", content=chunks, headers={"content-type": MULTIPART}
    )
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code == 200 and body == FUZZ_BODY:
        assert [name for name, _ in response.json()] == ["title", "file", "tags"]


@settings(
    max_examples=int(os.environ.get("BARE_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.binary(max_size=200)
    | st.text(alphabet="a=&%+;0123456789abcdefABCDEF\xe9", max_size=200).map(str.encode)
)
def test_any_urlencoded_body_is_never_a_500(client: TestClient, body: bytes) -> None:
    response = post(client, body, URLENCODED, "/form?max_fields=20")
    assert response.status_code in (200, 400, 413), response.text


# -- reading the body and the form --------------------------------------------------------


def test_the_form_is_read_once(client: TestClient) -> None:
    assert post(client, _fields(2), path="/twice").json() == [True, 2]
    assert post(client, b"a=1&b=2", URLENCODED, "/twice").json() == [True, 2]


def test_the_body_then_the_form(client: TestClient) -> None:
    body = multipart(part("a", b"1"), part("f", b"data", filename="d.txt"))
    length, form = post(client, body, path="/body-first").json()
    assert length == len(body)
    assert form[0] == ["a", "1"] and form[1][1]["content"] == "data"
    assert post(client, b"a=1", URLENCODED, "/body-first").json() == [3, [["a", "1"]]]


def test_a_urlencoded_form_then_the_body() -> None:
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> Any:
        form = await request.form()
        return [form["a"], (await request.body()).decode()]

    assert post(TestClient(app), b"a=1", URLENCODED, "/").json() == ["1", "a=1"]


# -- spooling -----------------------------------------------------------------------------


@pytest.fixture
def disk_files(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every temporary file a spooled file rolls over to: its path, and the thread that
    made it. Named files (in place of unnamed ones) so a test can see them go."""
    made: list[dict[str, Any]] = []
    named = tempfile.NamedTemporaryFile

    def temporary_file(*args: Any, **kwargs: Any) -> Any:
        file = named(*args, **kwargs)
        made.append({"file": file, "path": Path(file.name), "thread": threading.get_ident()})
        return file

    monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)
    return made


def test_files_past_the_spool_size_go_to_disk_off_the_event_loop(
    disk_files: list[dict[str, Any]],
) -> None:
    app = Bare(max_body_size=8 * 1024 * 1024)
    seen: dict[str, Any] = {}

    @app.post("/")
    async def handler(request: Request) -> Any:
        form = await request.form(spool_max_size=1000)
        seen["loop_thread"] = threading.get_ident()
        sizes = {}
        for name, upload in form.multi_items():
            assert isinstance(upload, UploadFile)
            content = await upload.read()
            assert len(content) == upload.size
            sizes[name] = [upload.size, upload._in_memory(), content[:4].hex()]
        await form.close()
        return sizes

    big = bytes(range(256)) * 4096  # 1 MiB
    body = multipart(
        part("small", b"x" * 1000, filename="s"),
        part("big", big, filename="b"),
        part("edge", b"y" * 1001, filename="e"),
    )
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    response = TestClient(app).post("/", content=chunks, headers={"content-type": MULTIPART})
    assert response.json() == {
        "small": [1000, True, "78787878"],
        "big": [len(big), False, "00010203"],
        "edge": [1001, False, "79797979"],
    }
    assert len(disk_files) == 2
    assert all(made["thread"] != seen["loop_thread"] for made in disk_files)
    assert all(made["file"].closed and not made["path"].exists() for made in disk_files)


def test_a_spool_size_of_zero_puts_every_file_on_disk(disk_files: list[dict[str, Any]]) -> None:
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> Any:
        form = await request.form(spool_max_size=0)
        upload = form["f"]
        empty = form["e"]
        assert isinstance(upload, UploadFile) and isinstance(empty, UploadFile)
        result = [upload._in_memory(), await upload.read(), empty._in_memory()]
        await form.close()
        return [result[0], result[1].decode(), result[2]]

    body = multipart(part("f", b"tiny", filename="t"), part("e", b"", filename="e"))
    assert post(TestClient(app), body, path="/").json() == [False, "tiny", True]
    assert len(disk_files) == 1 and disk_files[0]["file"].closed


# -- clean-up -----------------------------------------------------------------------------


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every SpooledTemporaryFile the parser makes."""
    import bare._multipart

    made: list[Any] = []

    class Recorded(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(bare._multipart, "SpooledTemporaryFile", Recorded)
    return made


def _post_in_chunks(
    asgi_call: Callable[..., Reply], seen: list[str], chunks: list[bytes], **options: Any
) -> Reply:
    """POST a multipart body to `_upload_app(seen)` in `chunks`, one message each."""
    return asgi_call(
        _upload_app(seen),
        "POST",
        "/",
        chunks=chunks,
        headers=[(b"content-type", MULTIPART.encode())],
        **options,
    )


def _upload_app(seen: list[str]) -> Bare:
    app = Bare(max_body_size=8 * 1024 * 1024)

    @app.post("/")
    async def handler(request: Request) -> str:
        try:
            await request.form(**{"spool_max_size": 100, **call_limits(request)})
        except BaseException as exc:
            seen.append(type(exc).__name__)
            raise
        seen.append("parsed")
        return "ok"

    return app


@pytest.mark.parametrize(
    ("tail", "status", "outcome"),
    [
        pytest.param(f"--{B}\r\nno colon\r\n\r\n".encode(), 400, "HTTPException", id="malformed"),
        pytest.param(
            multipart(part("g", b"z" * 10, filename="c")),
            413,
            "HTTPException",
            id="file_limit",
        ),
        pytest.param(multipart(part("bad", b"\xff")), 400, "HTTPException", id="field_utf8"),
    ],
)
def test_files_made_before_an_error_are_closed(
    asgi_call: Callable[..., Reply],
    spooled: list[Any],
    disk_files: list[dict[str, Any]],
    tail: bytes,
    status: int,
    outcome: str,
) -> None:
    seen: list[str] = []
    head = part("a", b"x" * 5000, filename="a") + part("b", b"y", filename="b")
    query = b"max_files=2" if status == 413 else b""
    reply = _post_in_chunks(asgi_call, seen, [head[:3000], head[3000:], tail], query=query)
    assert reply.status == status, reply.body
    assert seen == [outcome]
    assert len(spooled) == 2 and all(file.closed for file in spooled)
    assert len(disk_files) == 1
    assert disk_files[0]["file"].closed and not disk_files[0]["path"].exists()


def test_a_client_leaving_mid_upload_leaves_no_file(
    asgi_call: Callable[..., Reply], spooled: list[Any], disk_files: list[dict[str, Any]]
) -> None:
    seen: list[str] = []
    body = multipart(part("a", b"x" * 5000, filename="a"), part("b", b"y" * 5000, filename="b"))
    reply = _post_in_chunks(asgi_call, seen, [body[:3000], body[3000:6000]], disconnect=True)
    assert reply.status == 0 and reply.messages == []  # nobody to answer
    assert seen == ["ClientDisconnect"]
    assert len(spooled) == 2 and all(file.closed for file in spooled)
    # `a` went to disk when it ended; `b`'s bytes past the spool size were still
    # waiting for a batch to fill: dropped with it.
    assert len(disk_files) == 1
    assert all(made["file"].closed and not made["path"].exists() for made in disk_files)


def test_a_client_leaving_mid_field_leaves_no_file(
    asgi_call: Callable[..., Reply], spooled: list[Any]
) -> None:
    seen: list[str] = []
    body = multipart(part("a", b"x" * 50, filename="a"), part("b", b"y" * 5000))
    reply = _post_in_chunks(asgi_call, seen, [body[:1000]], disconnect=True)
    assert reply.status == 0 and seen == ["ClientDisconnect"]
    assert len(spooled) == 1 and spooled[0].closed


# These need the route callable to call `await request.close()` when the request ends
# (after the response and its background tasks), whatever happened.


def test_files_are_closed_when_the_request_ends(
    spooled: list[Any], disk_files: list[dict[str, Any]]
) -> None:
    app = Bare()
    open_in_handler: list[bool] = []

    @app.post("/")
    async def handler(request: Request) -> str:
        form = await request.form(spool_max_size=10)
        open_in_handler.extend(not file.closed for file in spooled)
        return str(len(form))

    body = multipart(part("a", b"x" * 100, filename="a"), part("b", b"y", filename="b"))
    assert post(TestClient(app), body, path="/").text == "2"
    assert open_in_handler == [True, True]
    assert all(file.closed for file in spooled)
    assert disk_files and all(not made["path"].exists() for made in disk_files)


@pytest.mark.parametrize(
    ("raised", "answer"),
    [
        (lambda: HTTPException(422, "no thanks"), (422, "no thanks")),
        (lambda: RuntimeError("bug"), (500, "Internal Server Error")),
    ],
    ids=["http_error", "bug"],
)
def test_files_are_closed_when_the_handler_raises(
    spooled: list[Any], raised: Callable[[], Exception], answer: tuple[int, str]
) -> None:
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> str:
        await request.form()
        raise raised()

    client = TestClient(app, raise_server_exceptions=False)
    response = post(client, multipart(part("a", b"x", filename="a")), path="/")
    assert error(response) == answer
    assert len(spooled) == 1 and spooled[0].closed


def test_background_tasks_can_still_read_the_files(spooled: list[Any]) -> None:
    app = Bare()
    read: list[bytes] = []

    async def store(upload: UploadFile) -> None:
        read.append(await upload.read())

    @app.post("/")
    async def handler(request: Request) -> str:
        form = await request.form()
        upload = form["a"]
        assert isinstance(upload, UploadFile)
        request.add_background_task(store, upload)
        return "later"

    assert (
        post(TestClient(app), multipart(part("a", b"kept", filename="a")), path="/").text == "later"
    )
    assert read == [b"kept"]
    assert spooled[0].closed


def test_request_close_without_a_form_does_nothing() -> None:
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> str:
        await request.close()
        await request.close()
        return "ok"

    assert TestClient(app).get("/").text == "ok"


# -- FormData and UploadFile on their own -------------------------------------------------


def test_form_data_api() -> None:
    upload = UploadFile(io.BytesIO(b"x"), filename="a.txt")
    form = FormData([("a", "1"), ("f", upload), ("a", "2")])
    assert form["a"] == "1" and form.get("a") == "1" and form.getlist("a") == ["1", "2"]
    assert list(form) == ["a", "f"] and list(form.keys()) == ["a", "f"]
    assert list(form.items()) == [("a", "1"), ("f", upload)]
    assert list(form.values()) == ["1", upload]
    assert form.multi_items() == [("a", "1"), ("f", upload), ("a", "2")]
    assert len(form) == 2 and "f" in form and "b" not in form
    with pytest.raises(KeyError):
        form["b"]
    assert form == FormData(form) == FormData(form.multi_items())
    assert form != FormData([("a", "2"), ("f", upload), ("a", "1")])
    assert FormData({"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert FormData() == FormData([]) and len(FormData()) == 0
    assert repr(FormData([("a", "1")])) == "FormData([('a', '1')])"
    with pytest.raises(TypeError):
        form["a"] = "3"  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(form)


def test_form_data_close_closes_its_files() -> None:
    files = [io.BytesIO(b"1"), io.BytesIO(b"2")]
    form = FormData([("a", UploadFile(files[0])), ("b", "x"), ("a", UploadFile(files[1]))])
    asyncio.run(form.close())
    assert all(file.closed for file in files)


def test_upload_file_api() -> None:
    async def run() -> list[Any]:
        upload = UploadFile(io.BytesIO(), size=0, filename="n.txt")
        await upload.write(b"hello")
        await upload.write(b" world")
        assert await upload.seek(0) == 0
        content = await upload.read()
        await upload.close()
        return [content, upload.size, upload.file.closed, upload.content_type]

    assert asyncio.run(run()) == [b"hello world", 11, True, None]
    upload = UploadFile(
        io.BytesIO(), filename="a.png", headers=Headers([(b"content-type", b"image/png")])
    )
    assert upload.content_type == "image/png" and upload.size is None
    assert repr(upload) == "UploadFile(filename='a.png', size=None, content_type='image/png')"


def test_upload_file_writes_that_roll_over_run_in_a_thread(
    disk_files: list[dict[str, Any]],
) -> None:
    async def run() -> list[Any]:
        upload = UploadFile(tempfile.SpooledTemporaryFile(max_size=10), size=0)  # noqa: SIM115
        await upload.write(b"0123456789")  # fits: stays in memory, on the loop
        in_memory = upload._in_memory()
        await upload.write(b"x")  # past max_size: rolls over, in a thread
        await upload.seek(0)
        content = await upload.read()
        await upload.close()
        return [in_memory, upload._in_memory(), content, threading.get_ident()]

    in_memory, after, content, loop_thread = asyncio.run(run())
    assert (in_memory, after, content) == (True, False, b"0123456789x")
    assert len(disk_files) == 1 and disk_files[0]["thread"] != loop_thread
    assert disk_files[0]["file"].closed


def test_upload_file_on_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"on disk")

    async def run() -> bytes:
        with path.open("rb") as file:
            upload = UploadFile(file)
            assert not upload._in_memory()
            await upload.seek(3)
            return await upload.read()

    assert asyncio.run(run()) == b"disk"


# -- safe file names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        pytest.param("photo.jpg", "photo.jpg", id="plain"),
        pytest.param("../../etc/passwd", "passwd", id="dotdot"),
        pytest.param("/etc/passwd", "passwd", id="absolute"),
        pytest.param("C:\\x\\..\\evil.txt", "evil.txt", id="windows_path"),
        pytest.param("\\\\server\\share\\f.txt", "f.txt", id="unc"),
        pytest.param("..", "upload", id="only_dots"),
        pytest.param(".", "upload", id="dot"),
        pytest.param("a/..", "upload", id="trailing_dotdot"),
        pytest.param("", "upload", id="empty"),
        pytest.param(None, "upload", id="none"),
        pytest.param(".bashrc", "bashrc", id="hidden"),
        pytest.param(" name. ", "name", id="edges"),
        pytest.param("a\x00b\x1f\x7fc.txt", "abc.txt", id="controls"),
        pytest.param("evil\u202etxt.exe", "eviltxt.exe", id="bidi"),
        pytest.param("a\u2028b\u200bc\u00a0d", "abc d", id="odd_spaces"),  # NFKC: NBSP is a space
        pytest.param("a b", "a b", id="space"),
        pytest.param('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h", id="windows_chars"),
        pytest.param("CON", "_CON", id="device"),
        pytest.param("nul.tar.gz", "_nul.tar.gz", id="device_extension"),
        pytest.param("com1 .txt", "_com1 .txt", id="device_space"),
        pytest.param("COM¹.txt", "_COM1.txt", id="device_superscript"),
        pytest.param("console.txt", "console.txt", id="not_a_device"),
        pytest.param("\uff45\uff56\uff49\uff4c\uff0f..\uff0fx.txt", "x.txt", id="fullwidth"),
        pytest.param("résumé.pdf", "résumé.pdf", id="unicode"),
        pytest.param("e\u0301.txt", "é.txt", id="nfkc"),
        pytest.param("\ud800.txt", "txt", id="lone_surrogate"),
    ],
)
def test_safe_filename(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_safe_filename_bounds_the_length() -> None:
    long = "a" * 10_000 + ".tar.gz"
    result = safe_filename(long)
    assert len(result.encode()) == 255 and result.endswith("aaa.gz")
    assert safe_filename("é" * 10_000 + ".png").endswith(".png")
    assert len(safe_filename("é" * 10_000 + ".png").encode()) <= 255
    no_extension = safe_filename("x" * 300)
    assert no_extension == "x" * 255
    odd_extension = safe_filename("x" * 300 + "." + "y" * 40)
    assert len(odd_extension) == 255 and odd_extension.startswith("xxx")
    for name in ["../" * 5000, "\x00" * 10_000, "." * 10_000, " " * 10_000]:
        assert safe_filename(name) == "upload"


def test_safe_filename_through_an_upload() -> None:
    client = TestClient(make_app(max_body_size=4 * 1024 * 1024))
    names = {
        "../../etc/passwd": "passwd",
        "a\x01b.txt": "ab.txt",
        "x" * 10_000 + ".txt": "x" * 251 + ".txt",
    }
    for sent, safe in names.items():
        body = multipart(part("f", b"1", filename=sent))
        form = post(client, body, path="/form?max_part_header_size=20000").json()
        assert form[0][1]["filename"] == sent
        assert form[0][1]["safe"] == safe


def test_a_nul_in_a_filename_is_kept_as_sent_and_removed_from_the_safe_name(
    client: TestClient,
) -> None:
    form = post(client, multipart(part("f", b"1", filename="a\x00.txt"))).json()
    assert form[0][1]["filename"] == "a\x00.txt" and form[0][1]["safe"] == "a.txt"


# -- the parser package -------------------------------------------------------------------


def test_without_the_multipart_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "multipart", None)  # `import multipart` now fails
    app = Bare()

    @app.post("/")
    async def handler(request: Request) -> str:
        try:
            await request.form()
        except ImportError as exc:
            return str(exc)
        return "parsed"

    client = TestClient(app)
    message = post(client, END, path="/").text
    assert message == (
        "request.form() needs multipart to read multipart/form-data: pip install multipart "
        "(or, in a checkout of bare, pip install '.[forms]')"
    )
    # urlencoded forms need no package.
    assert post(client, b"a=1", URLENCODED, "/").text == "parsed"


def test_another_module_called_multipart_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    impostor = types.ModuleType("multipart")
    impostor.__version__ = "0.0.6"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "multipart", impostor)
    from bare._multipart import load_parser

    with pytest.raises(ImportError, match=r"needs multipart >= 2\.0\.1.*'0\.0\.6'"):
        load_parser()


def test_importing_bare_and_its_forms_loads_no_parser() -> None:
    import json
    import subprocess

    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "import bare\n"
        "from bare import Bare\n"
        "from bare.forms import FormData, FormLimits, UploadFile\n"
        "Bare(form_limits=FormLimits()).post('/')(lambda request: '')\n"
        "import json; print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert not loaded & {
        "bare._multipart",
        "bare._urlencoded",
        "multipart",
        "tempfile",
        "unicodedata",
    }


# -- sanity of the helpers above ----------------------------------------------------------


def test_helpers_build_what_they_say() -> None:
    assert (
        _header_size(60).split(b"\r\n")[1]
        == b'Content-Disposition: form-data; name="' + (b"n" * 21) + b'"'
    )
    assert len(_header_size(60).split(b"\r\n")[1]) == 60
    lines = _header_sizes(80).split(b"\r\n")[1:3]
    assert sum(len(line) for line in lines) == 80
    # part() sends names as they are, UTF-8, controls and all: no escaping of its own.
    head = 'Content-Disposition: form-data; name="n\u00e9"; filename="a\x00\r\n.txt"\r\n'
    assert part("n\u00e9", b"1", filename="a\x00\r\n.txt") == part(head=head.encode(), value=b"1")
