"""CSRFMiddleware: signed double-submit tokens, form fields, origins, exemptions."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bare import Bare, HTMLResponse, Request
from bare.middleware.csrf import (
    CSRF_KEY,
    CSRFMiddleware,
    csrf_field_name,
    csrf_input,
    csrf_token,
)
from bare.middleware.sessions import SessionMiddleware
from bare.sessions import Signer
from bare.testing import TestClient

SECRET = "csrf-secret-0123456789abcdefghijklmn"
OLD_SECRET = "old-csrf-secret-0123456789abcdefghij"
OTHER = "another-secret-0123456789abcdefghijk"
Call = Callable[..., Any]


def make_app(**options: Any) -> Bare:
    app = Bare()
    app.add_middleware(CSRFMiddleware, **{"secret_key": SECRET, **options})

    @app.get("/form")
    async def form(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<form method="post">{csrf_input(request)}</form>')

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "plain"

    @app.route("/submit", methods=["POST", "PUT", "PATCH", "DELETE"])
    async def submit(request: Request) -> dict[str, Any]:
        return {"method": request.method, "body": (await request.body()).decode()}

    @app.post("/hooks/mail")
    async def mail(request: Request) -> str:
        return "mail"

    @app.post("/api/{rest:path}")
    async def api(request: Request) -> str:
        return "api"

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as client:
        client.get("/form")
        yield client


def token_of(client: TestClient) -> str:
    return str(client.cookies["csrftoken"])


def cookie_of(response: Any, name: str = "csrftoken") -> str | None:
    for header in response.headers.getlist("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header.split(";", 1)[0].split("=", 1)[1])
    return None


def forged_token(secret: str) -> str:
    """A well-formed token signed with `secret` for the CSRF purpose."""
    nonce = b"A" * 22
    return (nonce + b"." + Signer(secret, "bare.csrf").signature(nonce)).decode()


# -- safe methods and the cookie ----------------------------------------------------------


def test_a_safe_request_gets_a_cookie_when_it_has_none() -> None:
    client = TestClient(make_app())
    response = client.get("/plain")
    header = response.headers["set-cookie"]
    assert header.startswith("csrftoken=")
    assert header.split("; ")[1:] == ["Path=/", "SameSite=Lax"]  # not HttpOnly: JS reads it
    token = cookie_of(response)
    assert token is not None and len(token) == 66


def test_a_valid_cookie_is_kept() -> None:
    client = TestClient(make_app())
    client.get("/plain")
    token = token_of(client)
    response = client.get("/form")
    assert "set-cookie" not in response.headers
    assert f'value="{token}"' in response.text


@pytest.mark.parametrize("cookie", ["garbage", forged_token(OTHER), "A" * 66, ""])
def test_an_invalid_cookie_is_replaced(cookie: str) -> None:
    response = TestClient(make_app()).get("/plain", cookies={"csrftoken": cookie})
    new = cookie_of(response)
    assert new is not None and new != cookie


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_pass_without_a_token(asgi_call: Call, method: str) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["method"].encode()})

    reply = asgi_call(CSRFMiddleware(raw, secret_key=SECRET), method, "/")
    assert reply.status == 200 and reply.body == method.encode()
    assert (reply.header("set-cookie") or "").startswith("csrftoken=")


# -- unsafe methods -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_header_token_lets_unsafe_methods_through(client: TestClient, method: str) -> None:
    response = client.request(
        method, "/submit", json={"a": 1}, headers={"x-csrf-token": token_of(client)}
    )
    assert response.status_code == 200
    assert response.json() == {"method": method, "body": '{"a":1}'}
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"])
def test_unsafe_methods_without_a_token_are_refused(client: TestClient, method: str) -> None:
    response = client.request(method, "/submit", json={"a": 1})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF token missing"}


def test_a_missing_cookie_is_refused() -> None:
    client = TestClient(make_app())
    token = cookie_of(client.get("/plain"))
    assert token is not None
    client.cookies.clear()
    response = client.post("/submit", headers={"x-csrf-token": token})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF cookie missing or invalid"}


def test_a_cookie_alone_is_refused(client: TestClient) -> None:
    response = client.post("/submit", data={"a": "1"})
    assert response.status_code == 403


def test_a_mismatched_token_is_refused(client: TestClient) -> None:
    other = TestClient(make_app())
    other.get("/plain")
    response = client.post("/submit", headers={"x-csrf-token": token_of(other)})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF token incorrect"}


def test_a_token_from_another_secret_is_refused_even_when_both_match() -> None:
    forged = forged_token(OTHER)
    client = TestClient(make_app())
    response = client.post(
        "/submit", cookies={"csrftoken": forged}, headers={"x-csrf-token": forged}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF cookie missing or invalid"}


def test_a_token_signed_with_an_old_secret_still_passes() -> None:
    old = TestClient(make_app(secret_key=OLD_SECRET))
    old.get("/plain")
    token = token_of(old)
    rotated = TestClient(make_app(secret_key=[SECRET, OLD_SECRET]))
    response = rotated.post(
        "/submit", cookies={"csrftoken": token}, headers={"x-csrf-token": token}
    )
    assert response.status_code == 200
    new = cookie_of(rotated.get("/plain"))  # a new visitor's token: signed with SECRET
    assert new is not None
    only_new = TestClient(make_app(secret_key=SECRET))
    assert (
        only_new.post(
            "/submit", cookies={"csrftoken": new}, headers={"x-csrf-token": new}
        ).status_code
        == 200
    )


def test_the_refusal_echoes_nothing(client: TestClient) -> None:
    evil = "<script>alert(1)</script>"
    response = client.post("/submit", headers={"x-csrf-token": evil}, content=evil)
    assert response.status_code == 403
    assert evil not in response.text and "script" not in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "submitted",
    [
        b"",
        b"\xff" * 66,
        b"caf\xe9",
        b"A" * 100_000,
        b"\x00",
    ],
)
def test_hostile_header_tokens_are_refused_not_crashed(asgi_call: Call, submitted: bytes) -> None:
    middleware = CSRFMiddleware(noop_app, secret_key=SECRET)
    token = middleware.new_token().encode()
    reply = asgi_call(
        middleware,
        "POST",
        "/",
        headers=[
            (b"host", b"testserver"),
            (b"cookie", b"csrftoken=" + token),
            (b"x-csrf-token", submitted),
        ],
    )
    assert reply.status == 403


def test_a_non_ascii_cookie_is_refused_not_crashed(asgi_call: Call) -> None:
    reply = asgi_call(
        CSRFMiddleware(noop_app, secret_key=SECRET),
        "POST",
        "/",
        headers=[(b"cookie", b"csrftoken=" + b"\xe9" * 66), (b"x-csrf-token", b"\xe9" * 66)],
    )
    assert reply.status == 403


def test_many_cookies_are_checked_in_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[bytes] = []
    real = Signer.verify

    def counting(self: Signer, message: bytes, signature: bytes) -> bool:
        checked.append(message)
        return real(self, message, signature)

    monkeypatch.setattr(Signer, "verify", counting)
    fake = "A" * 22 + "." + "B" * 43
    header = "; ".join(f"csrftoken={fake}" for _ in range(2000))
    response = TestClient(make_app()).post(
        "/submit", headers={"cookie": header, "x-csrf-token": fake}
    )
    assert response.status_code == 403
    assert len(checked) == 4


# -- form fields --------------------------------------------------------------------------


def test_the_form_field_is_read_and_the_handler_still_gets_the_body(client: TestClient) -> None:
    token = token_of(client)
    response = client.post("/submit", data={"name": "ann", "csrf_token": token, "z": "1"})
    assert response.status_code == 200
    assert response.json()["body"] == f"name=ann&csrf_token={token}&z=1"


def test_the_form_field_may_come_in_a_later_chunk(client: TestClient) -> None:
    token = token_of(client)
    body = f"name=ann&csrf_token={token}".encode()
    chunks = [body[:5], body[5:20], body[20:]]
    response = client.post(
        "/submit",
        content=iter(chunks),
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["body"] == body.decode()


def test_a_percent_encoded_form_field_is_decoded(client: TestClient) -> None:
    token = token_of(client).replace(".", "%2E").replace("A", "%41")
    body = f"csrf%5Ftoken={token}"
    response = client.post(
        "/submit", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200


def test_the_first_form_field_counts(client: TestClient) -> None:
    token = token_of(client)
    body = f"csrf_token=wrong&csrf_token={token}"
    response = client.post(
        "/submit", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 403


def test_a_form_without_the_field_is_refused(client: TestClient) -> None:
    response = client.post("/submit", data={"name": "ann", "csrf": token_of(client)})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF token missing"}


def test_the_header_wins_over_the_form_field(client: TestClient) -> None:
    token = token_of(client)
    response = client.post("/submit", data={"csrf_token": token}, headers={"x-csrf-token": "wrong"})
    assert response.status_code == 403


def test_the_field_is_only_looked_for_in_form_bodies(client: TestClient) -> None:
    token = token_of(client)
    for content_type in ("text/plain", "application/json", "multipart/form-data; boundary=x"):
        response = client.post(
            "/submit", content=f"csrf_token={token}", headers={"content-type": content_type}
        )
        assert response.status_code == 403, content_type


def test_multipart_forms_pass_with_the_header(client: TestClient) -> None:
    response = client.post(
        "/submit",
        data={"name": "ann"},
        files={"f": ("a.txt", b"hello")},
        headers={"x-csrf-token": token_of(client)},
    )
    assert response.status_code == 200
    assert "hello" in response.json()["body"]


def test_a_form_body_over_the_limit_is_413(client: TestClient) -> None:
    tight = TestClient(make_app(max_body_size=100))
    tight.get("/plain")
    token = token_of(tight)
    fits = tight.post("/submit", data={"csrf_token": token, "a": "x" * 10})
    assert fits.status_code == 200
    declared = tight.post("/submit", data={"csrf_token": token, "a": "x" * 200})
    assert declared.status_code == 413
    assert declared.headers["connection"] == "close"
    streamed = tight.post(
        "/submit",
        content=iter([f"csrf_token={token}".encode(), b"&a=" + b"x" * 200]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413


def test_a_client_that_leaves_mid_body_gets_no_answer(asgi_call: Call) -> None:
    middleware = CSRFMiddleware(noop_app, secret_key=SECRET)
    token = middleware.new_token().encode()
    reply = asgi_call(
        middleware,
        "POST",
        "/",
        chunks=[b"csrf_token=" + token[:10]],
        disconnect=True,
        headers=[
            (b"cookie", b"csrftoken=" + token),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
    )
    assert reply.status == 0 and reply.messages == []


def test_a_huge_urlencoded_body_is_scanned_linearly(client: TestClient) -> None:
    token = token_of(client)
    body = "&".join(["%41%42=%43"] * 50_000) + f"&csrf_token={token}"
    assert len(body) > 500_000
    response = client.post(
        "/submit", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200
    assert response.json()["body"] == body


# -- multipart forms: the token as the first field ----------------------------------------

TOKEN = forged_token(SECRET).encode()  # signed with SECRET: a valid cookie and field
B = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"  # as a browser makes them
MULTIPART = b"multipart/form-data; boundary=" + B
FIRST = "CSRF token missing: a multipart form must send its csrf_token field first"
DISPOSITION = b'Content-Disposition: form-data; name="csrf_token"'


def part(value: bytes, *headers: bytes) -> bytes:
    """One part: its header lines (the token field's by default), a blank line, `value`."""
    return b"\r\n".join(headers or (DISPOSITION,)) + b"\r\n\r\n" + value


def body_of(*parts: bytes, boundary: bytes = B) -> bytes:
    """A multipart body as browsers send it: each part after a boundary line, then the
    final boundary."""
    return b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + (
        b"--" + boundary + b"--\r\n"
    )


TITLE = part(b"a title", b'Content-Disposition: form-data; name="title"')
FILE = part(
    b"file bytes\r\n--" + B[:-1] + b"\r\n",  # a near miss of the boundary inside
    b'Content-Disposition: form-data; name="f"; filename="a.txt"',
    b"Content-Type: text/plain",
)
FORM = body_of(part(TOKEN), TITLE, FILE)


@dataclass
class Driven:
    """What happened to one request through CSRFMiddleware around a recording app."""

    status: int  # 0: no answer
    headers: dict[bytes, bytes]
    body: bytes
    received: list[bytes]  # the body messages the app was given, in order
    read_before_app: int | None  # receive() calls made before the app ran (None: never)


def drive(
    chunks: list[bytes],
    *,
    content_type: bytes | None = MULTIPART,
    options: dict[str, Any] | None = None,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
    disconnect: bool = False,
    path: str = "/",
    root_path: str = "",
) -> Driven:
    """Post `chunks` (one `http.request` each) through the middleware; the app below
    reads the whole body and answers it back. Receives are O(1) each (an iterator), so
    that bodies of many small chunks cost what the middleware makes them cost."""
    headers = [(b"host", b"testserver"), (b"cookie", b"csrftoken=" + TOKEN), *extra_headers]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = iter(
        [
            {"type": "http.request", "body": chunk, "more_body": disconnect or i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
    )
    reads = 0
    read_before_app: int | None = None
    received: list[bytes] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return next(messages, {"type": "http.disconnect"})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal read_before_app
        read_before_app = reads
        while True:
            message = await receive()
            assert message["type"] == "http.request", message
            received.append(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"".join(received)})

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = CSRFMiddleware(app, **{"secret_key": SECRET, **(options or {})})
    asyncio.run(middleware(scope, receive, send))
    if not sent:
        return Driven(0, {}, b"", received, read_before_app)
    start, *rest = sent
    body = b"".join(m.get("body", b"") for m in rest)
    return Driven(start["status"], dict(start["headers"]), body, received, read_before_app)


def refused(driven: Driven, detail: str = FIRST) -> bool:
    return (driven.status, json.loads(driven.body)) == (403, {"detail": detail})


def test_a_multipart_form_with_the_token_first_passes_whole() -> None:
    app = make_app()

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {
            name: value
            if isinstance(value, str)
            else [value.filename, (await value.read()).decode()]
            for name, value in form.multi_items()
        }

    client = TestClient(app)
    client.get("/plain")
    token = token_of(client)
    files = {"f": ("a.txt", b"x" * 100_000, "text/plain")}
    response = client.post("/upload", data={"csrf_token": token, "name": "ann"}, files=files)
    assert response.status_code == 200
    form = response.json()
    assert (form["csrf_token"], form["name"], form["f"]) == (token, "ann", ["a.txt", "x" * 100_000])
    late = client.post("/upload", data={"name": "ann", "csrf_token": token}, files=files)
    assert late.status_code == 403
    assert late.json() == {"detail": FIRST}


def test_the_app_gets_the_exact_body_in_the_same_messages() -> None:
    chunks = [FORM[:7], FORM[7:150], FORM[150:]]
    driven = drive(chunks)
    assert driven.status == 200
    assert driven.received == chunks
    assert driven.body == FORM


def test_only_the_start_of_an_upload_is_read_before_the_app_runs() -> None:
    upload = body_of(part(TOKEN), FILE)
    cut = upload.index(b"\r\n--" + B, 10) + len(B) + 4  # the token part and its delimiter
    chunks = [upload[:cut], *[b"y" * 65536] * 20, upload[cut:]]
    driven = drive(chunks)
    assert driven.status == 200
    assert driven.read_before_app == 1  # not the 1.3 MB behind it
    assert driven.received == chunks
    # A token part that comes in three messages: three reads.
    three = drive([upload[:20], upload[20:100], upload[100:]])
    assert (three.status, three.read_before_app) == (200, 3)


def test_the_delimiter_may_come_cut_at_any_offset() -> None:
    for cut in range(len(FORM) + 1):
        chunks = [FORM[:cut], FORM[cut:]]
        driven = drive(chunks)
        assert (driven.status, driven.received) == (200, chunks), cut


def test_a_form_in_one_byte_messages_passes() -> None:
    chunks = [FORM[i : i + 1] for i in range(len(FORM))]
    driven = drive(chunks)
    assert driven.status == 200
    assert driven.received == chunks


@pytest.mark.parametrize(
    "first",
    [
        part(TOKEN),
        part(TOKEN, b"Content-Disposition: form-data; name=csrf_token"),
        part(TOKEN, b'content-disposition: FORM-DATA; NAME="csrf_token"'),
        part(TOKEN, b'Content-Disposition:   form-data ;  name = "csrf_token"  \t'),
        part(TOKEN, b'Content-Disposition:\tform-data; name="csrf_token"'),
        part(TOKEN, DISPOSITION, b"Content-Type: text/plain; charset=utf-8"),
        part(TOKEN, b"X-Other: ;name=title", DISPOSITION),
    ],
    ids=["quoted", "unquoted", "case", "spaces", "tab", "content_type", "other_header"],
)
def test_the_token_part_as_clients_write_it(first: bytes) -> None:
    driven = drive([body_of(first, TITLE)])
    assert driven.status == 200, driven.body


def test_a_crlf_before_the_first_boundary_is_allowed() -> None:
    assert drive([b"\r\n" + FORM]).status == 200
    assert drive([b"\r", b"\n--", FORM[2:]]).status == 200


@pytest.mark.parametrize(
    "body",
    [
        body_of(TITLE, part(TOKEN)),
        body_of(FILE, part(TOKEN)),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf_token"; filename="t"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf_token\\"; x="')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="x\\"; name=\\"csrf_token"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="title"; name="csrf_token"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf_token"; name="title"')),
        body_of(part(TOKEN, b"Content-Disposition: form-data; name*=UTF-8''csrf_token")),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf%5Ftoken"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="CSRF_TOKEN"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name=" csrf_token"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf_token')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name=csrf_token"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data; name="csrf_token";')),
        body_of(part(TOKEN, b'Content-Disposition: attachment; name="csrf_token"')),
        body_of(part(TOKEN, b'Content-Disposition: form-data name="csrf_token"')),
        body_of(part(TOKEN, b"Content-Type: text/plain")),
        body_of(part(TOKEN, DISPOSITION, DISPOSITION)),
        body_of(part(TOKEN, b"Content-Disposition: form-data;", b' name="csrf_token"')),
        body_of(part(TOKEN, DISPOSITION, b"\tX-Folded: yes")),
        body_of(part(TOKEN, b'Content-Disposition : form-data; name="csrf_token"')),
        body_of(part(TOKEN, b" " + DISPOSITION)),
        body_of(part(TOKEN, b"X-No-Colon", DISPOSITION)),
        body_of(part(TOKEN, b": empty name", DISPOSITION)),
        body_of(part(TOKEN, DISPOSITION + b"\nX-Lf: only")),
        body_of(part(TOKEN, b"X-Cr: a\rb", DISPOSITION)),
        body_of(part(TOKEN, b"X-Nul\x00: a", DISPOSITION)),
        body_of(part(TOKEN, b"")),
        b"--" + B + b"\r\n" + DISPOSITION + b"\r\n--" + B + b"--\r\n",  # no blank line
        b"--" + B + b"\n" + DISPOSITION + b"\n\n" + TOKEN + b"\n--" + B + b"--\n",  # LF only
        b"preamble\r\n" + FORM,
        b"\r\n\r\n" + FORM,
        b" " + FORM,
        FORM.replace(b"--" + B + b"\r\n", b"--" + B + b" \r\n", 1),  # transport padding
        FORM.replace(b"--" + B + b"\r\n", b"--" + B + b"x\r\n", 1),  # a longer boundary
        body_of(part(TOKEN), boundary=B[:-1]),
        b"--" + B + b"--\r\n",  # an empty form
        b"",
    ],
    ids=["other_field_first", "file_first", "token_as_file", "quote_injection",
         "escaped_name", "second_name", "first_of_two_names", "extended_name", "percent",
         "upper_case_field", "padded_name", "open_quote", "stray_quote", "trailing_semicolon",
         "attachment", "no_semicolon", "no_disposition", "two_dispositions", "folded",
         "folded_other", "space_before_colon", "leading_space", "no_colon", "empty_name",
         "bare_lf_in_headers", "bare_cr_in_headers", "nul_in_name", "no_headers",
         "no_blank_line", "lf_only", "preamble", "two_crlf", "leading_space_body",
         "padding", "longer_boundary", "other_boundary", "empty_form", "empty_body"],
)  # fmt: skip
def test_anything_but_the_token_field_first_is_refused(body: bytes) -> None:
    driven = drive([body])
    assert refused(driven), (driven.status, driven.body)
    assert driven.read_before_app is None


def test_the_value_of_the_first_field_must_be_the_token() -> None:
    for value in (
        b"",
        b"forged",
        TOKEN + b" ",
        TOKEN[:-1],
        TOKEN + b"\r\n",
        forged_token(OTHER).encode(),
    ):
        driven = drive([body_of(part(value), TITLE)])
        assert refused(driven, "CSRF token incorrect"), value


def test_a_body_cut_short_is_refused_without_a_hang() -> None:
    for cut in range(len(FORM)):
        if FORM.find(b"\r\n--" + B, 10) + len(B) + 4 <= cut:
            break  # the token part and its delimiter are all there
        driven = drive([FORM[:cut]])
        assert refused(driven), cut
        assert "connection" not in {k.decode() for k in driven.headers}  # all read


def test_a_client_that_leaves_in_the_token_part_gets_no_answer() -> None:
    driven = drive([FORM[:40]], disconnect=True)
    assert (driven.status, driven.read_before_app) == (0, None)


def test_a_refusal_with_the_body_unread_closes_the_connection() -> None:
    driven = drive([body_of(TITLE, part(TOKEN)), b"more of the body"])
    assert refused(driven)
    assert driven.headers[b"connection"] == b"close"


@pytest.mark.parametrize(
    "content_type",
    [
        b'multipart/form-data; boundary="' + B + b'"',
        b"Multipart/Form-Data; Boundary=" + B,
        b"multipart/form-data; charset=utf-8; boundary=" + B,
        b"multipart/form-data ;boundary=" + B,
    ],
    ids=["quoted", "case", "other_parameter", "spaces"],
)
def test_the_boundary_as_clients_write_it(content_type: bytes) -> None:
    assert drive([FORM], content_type=content_type).status == 200


@pytest.mark.parametrize(
    "boundary",
    [b"a", b"x" * 70, b"'()+_,-./:=?", b'"with space"'],
    ids=["one", "seventy", "specials", "space"],
)
def test_every_boundary_rfc_2046_allows_works(boundary: bytes) -> None:
    bare = boundary.strip(b'"')
    form = body_of(part(TOKEN), TITLE, boundary=bare)
    assert drive([form], content_type=b"multipart/form-data; boundary=" + boundary).status == 200


@pytest.mark.parametrize(
    "content_type",
    [
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b'multipart/form-data; boundary=""',
        b"multipart/form-data; boundary=" + b"x" * 71,
        b"multipart/form-data; boundary=a@b",
        b'multipart/form-data; boundary="ab "',
        b"multipart/form-data; boundary=\xe9",
        b"multipart/form-data; boundary=" + B + b"; boundary=" + B,
    ],
    ids=["missing", "empty", "empty_quoted", "too_long", "bad_character", "trailing_space",
         "non_ascii", "twice"],
)  # fmt: skip
def test_a_bad_boundary_is_refused_unread(content_type: bytes) -> None:
    driven = drive([FORM], content_type=content_type)
    assert refused(driven)
    assert driven.read_before_app is None
    assert driven.headers[b"connection"] == b"close"


def test_the_header_token_leaves_the_body_unread() -> None:
    driven = drive([body_of(TITLE), b""], extra_headers=((b"x-csrf-token", TOKEN),))
    assert (driven.status, driven.read_before_app) == (200, 0)
    forged = drive([FORM], extra_headers=((b"x-csrf-token", b"forged"),))
    assert refused(forged, "CSRF token incorrect")  # the header wins, the field is not read


def test_the_token_part_must_end_within_max_token_part_size() -> None:
    padding = b"X-Pad: " + b"p" * 2000
    form = body_of(part(TOKEN, padding, DISPOSITION), TITLE)
    needed = form.index(b"\r\n--" + B, 10) + len(B) + 4
    exact = {"max_token_part_size": needed}
    short = {"max_token_part_size": needed - 1}
    limit = f"{FIRST}, within its first {needed - 1} bytes (max_token_part_size)"
    for chunks, unread in (
        ([form], False),
        ([form[:100], form[100:]], False),
        ([form[i : i + 7] for i in range(0, len(form), 7)], True),
    ):
        assert drive(chunks, options=exact).status == 200
        driven = drive(chunks, options=short)
        assert refused(driven, limit)
        # The connection is closed when body bytes are left in it.
        assert (driven.headers.get(b"connection") == b"close") is unread


def test_a_long_header_line_stops_at_the_default_limit() -> None:
    line = b"X-Long: " + b"a" * 100_000
    driven = drive([body_of(part(TOKEN, line, DISPOSITION))])
    assert refused(driven, f"{FIRST}, within its first 16384 bytes (max_token_part_size)")


def test_hostile_multipart_starts_are_read_in_linear_time() -> None:
    # About a MiB each, in messages of 3 bytes (near misses of the delimiter), and of one
    # (a form the app then reads): pytest-timeout stops anything quadratic (a rescan of
    # what was read, a replay that shifts a list) long before it ends.
    mib = 1024 * 1024
    options = {"max_token_part_size": 2 * mib}
    near_misses = (b"\r\n--" + B[:-1]) * (mib // (len(B) + 3))
    long_line = part(TOKEN, b"X-Pad: " + b"-" * mib, DISPOSITION)
    for form, status, size in ((body_of(part(near_misses)), 403, 3), (body_of(long_line), 200, 1)):
        chunks = [form[i : i + size] for i in range(0, len(form), size)]
        driven = drive(chunks, options=options)
        assert driven.status == status
        if status == 200:
            assert len(driven.received) == len(chunks)


def test_the_token_part_limit_is_checked_at_construction() -> None:
    bad: Any
    for bad in (1023, 0, -1, True, 16384.0, "16k", None):
        with pytest.raises(ValueError, match="max_token_part_size must be an int of 1024 or more"):
            CSRFMiddleware(noop_app, secret_key=SECRET, max_token_part_size=bad)
    assert CSRFMiddleware(noop_app, secret_key=SECRET, max_token_part_size=1024)
    assert CSRFMiddleware(noop_app, secret_key=SECRET).max_token_part_size == 16 * 1024


# Bare's own form parser is the oracle: a body the middleware takes for one whose first
# field is the token must be one whose first field the app reads as the token.
ORACLE_BODY = body_of(
    part(TOKEN),
    part(b"t\r\n-", b'Content-Disposition: form-data; name="title"'),
    FILE,
)


def oracle_app() -> Bare:
    app = make_app()

    @app.post("/first")
    async def first(request: Request) -> list[Any]:
        name, value = (await request.form()).multi_items()[0]
        return [name, value if isinstance(value, str) else None]

    return app


ORACLE = TestClient(oracle_app())


@settings(
    max_examples=int(os.environ.get("BARE_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["cut", "insert", "delete", "flip"]),
            # The token part and its delimiter are in the first 200 bytes; the name is
            # at 80 to 90.
            st.integers(0, 200) | st.integers(76, 94),
            st.binary(max_size=6)
            | st.sampled_from(
                [b"\r\n", b"\n", b"\r", b"--", B, b"\r\n--" + B, b'"', b":", b";", b" ", b"\\"]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    splits=st.lists(st.integers(1, 300), max_size=4),
)
def test_a_mangled_start_is_taken_for_the_token_only_if_the_app_agrees(
    edits: list[tuple[str, int, bytes]], splits: list[int]
) -> None:
    body = ORACLE_BODY
    for kind, at, data in edits:
        at = min(at, len(body))
        if kind == "cut":
            body = body[:at]
        elif kind == "insert":
            body = body[:at] + data + body[at:]
        elif kind == "delete":
            body = body[:at] + body[at + max(len(data), 1) :]
        elif body:
            body = body[:at] + bytes([body[min(at, len(body) - 1)] ^ 0x20]) + body[at + 1 :]
    cuts = sorted({0, *(s for s in splits if s < len(body)), len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(cuts) if b > a] or [b""]
    response = ORACLE.post(
        "/first",
        content=chunks,
        headers={"content-type": MULTIPART.decode(), "cookie": f"csrftoken={TOKEN.decode()}"},
    )
    assert response.status_code in (200, 400, 403, 413), response.text
    if response.status_code == 200:
        assert response.json() == ["csrf_token", TOKEN.decode()]
    elif response.status_code == 403:
        assert response.json()["detail"] in (FIRST, "CSRF token incorrect")


# -- exemptions ---------------------------------------------------------------------------


def test_exempt_paths_exact_and_prefix() -> None:
    client = TestClient(make_app(exempt=["/hooks/mail", "/api/*"]))
    assert client.post("/hooks/mail").status_code == 200
    assert client.post("/api/v1/items").status_code == 200
    assert client.post("/submit").status_code == 403
    # Exact means exact; a prefix ends at a segment.
    prefix_only = TestClient(make_app(exempt=["/hooks/*"]))
    assert prefix_only.post("/hooks/mail").status_code == 200
    assert TestClient(make_app(exempt=["/hooks"])).post("/hooks/mail").status_code == 403
    assert TestClient(make_app(exempt=["/ap/*"])).post("/api/x").status_code == 403


def test_exempt_paths_are_matched_below_the_root_path() -> None:
    """Behind a proxy that mounts the app at /site, `path` starts with /site: the
    exemptions are the app's own paths, as its routes are."""
    client = TestClient(make_app(exempt=["/hooks/mail", "/api/*"]), root_path="/site")
    assert client.post("/hooks/mail").status_code == 200
    assert client.post("/api/v1/items").status_code == 200
    assert client.post("/submit").status_code == 403
    # The proxy's prefix is not part of the app's paths.
    prefixed = TestClient(make_app(exempt=["/site/hooks/mail", "/site/*"]), root_path="/site")
    assert prefixed.post("/hooks/mail").status_code == 403
    assert prefixed.post("/api/v1/items").status_code == 403


@pytest.mark.parametrize(
    ("root_path", "path", "status"),
    [
        ("/site", "/site/hooks/mail", 200),  # the full path, as servers send it
        ("/site", "/hooks/mail", 200),  # the prefix already stripped
        ("/site", "/site", 403),  # the root: "/"
        ("/site", "/sitehooks/mail", 403),  # not under the prefix: matched as it is
        ("/site", "/site/hooks/mail/", 403),  # exact is exact
        ("", "/hooks/mail", 200),
    ],
    ids=["full", "stripped", "root", "lookalike", "slash", "none"],
)
def test_exemptions_under_every_root_path_shape(root_path: str, path: str, status: int) -> None:
    options = {"exempt": ["/hooks/mail"]}
    assert drive([b""], options=options, path=path, root_path=root_path).status == status


def test_exempt_can_be_a_predicate() -> None:
    seen: list[str] = []

    def is_exempt(scope: Any) -> bool:
        seen.append(scope["path"])
        return bool(scope["path"].startswith("/hooks/"))

    client = TestClient(make_app(exempt=is_exempt))
    assert client.post("/hooks/mail").status_code == 200
    assert client.post("/submit").status_code == 403
    assert seen == ["/hooks/mail", "/submit"]


def test_an_exempt_handler_can_check_the_token_itself() -> None:
    import hmac

    app = make_app(exempt=["/upload"])

    @app.post("/upload")
    async def upload(request: Request) -> str:
        submitted = request.query("csrf_token").encode()
        if not hmac.compare_digest(submitted, csrf_token(request).encode()):
            return "refused"
        return "accepted"

    client = TestClient(app)
    client.get("/plain")
    token = token_of(client)
    assert client.post("/upload", params={"csrf_token": token}).text == "accepted"
    assert client.post("/upload", params={"csrf_token": "x"}).text == "refused"


# -- origins ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://testserver", 200),
        ("HTTP://TESTSERVER", 200),
        ("http://testserver:80", 200),
        ("https://testserver", 200),  # behind a proxy that ends TLS
        ("https://evil.example", 403),
        ("http://testserver.evil.example", 403),
        ("http://evil.example/testserver", 403),
        ("http://testserver:8080", 403),
        ("null", 403),
        ("testserver", 403),
        ("ftp://testserver", 403),
        ("", 403),
    ],
)
def test_the_origin_must_be_the_sites_own(client: TestClient, origin: str, status: int) -> None:
    response = client.post("/submit", headers={"x-csrf-token": token_of(client), "origin": origin})
    assert response.status_code == status
    if status == 403:
        assert response.json() == {"detail": "CSRF check failed: untrusted origin"}


def test_an_https_request_refuses_an_http_origin() -> None:
    client = TestClient(make_app(), base_url="https://example.com")
    client.get("/plain")
    token = token_of(client)
    for origin, status in (("http://example.com", 403), ("https://example.com", 200)):
        response = client.post("/submit", headers={"x-csrf-token": token, "origin": origin})
        assert response.status_code == status, origin


def test_trusted_origins_and_switching_the_check_off() -> None:
    trusted = TestClient(make_app(trusted_origins=["https://app.example.com:8443"]))
    trusted.get("/plain")
    token = token_of(trusted)
    ok = trusted.post(
        "/submit", headers={"x-csrf-token": token, "origin": "https://app.example.com:8443"}
    )
    assert ok.status_code == 200
    off = TestClient(make_app(check_origin=False))
    off.get("/plain")
    token = token_of(off)
    response = off.post(
        "/submit", headers={"x-csrf-token": token, "origin": "https://evil.example"}
    )
    assert response.status_code == 200
    # The token is still required without the origin check.
    assert off.post("/submit", headers={"origin": "http://testserver"}).status_code == 403


def test_a_valid_token_from_another_origin_is_refused(client: TestClient) -> None:
    """A token copied from a real visit and planted in a cookie: the Origin stops it."""
    token = token_of(client)
    response = client.post(
        "/submit",
        data={"csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


# -- the token for templates --------------------------------------------------------------


def test_csrf_token_and_input_and_field_name() -> None:
    app = make_app(field_name="_token")

    @app.get("/bits")
    async def bits(request: Request) -> dict[str, str]:
        return {
            "token": csrf_token(request),
            "again": csrf_token(request.scope),
            "field": csrf_field_name(request),
            "input": csrf_input(request),
        }

    client = TestClient(app)
    result = client.get("/bits").json()
    token = token_of(client)
    assert result == {
        "token": token,
        "again": token,
        "field": "_token",
        "input": f'<input type="hidden" name="_token" value="{token}">',
    }
    assert client.post("/submit", data={"_token": token}).status_code == 200


def test_using_the_token_sends_vary_cookie() -> None:
    client = TestClient(make_app())
    assert client.get("/form").headers.getlist("vary") == ["Cookie"]
    assert client.get("/form").headers.getlist("vary") == ["Cookie"]  # cookie now known
    assert "vary" not in client.get("/plain").headers


def test_a_raw_app_gets_the_token_the_cookie_and_vary(asgi_call: Call) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        body = csrf_token(scope).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    middleware = CSRFMiddleware(raw, secret_key=SECRET)
    reply = asgi_call(middleware, "GET", "/")
    cookie = reply.header("set-cookie")
    assert cookie is not None and cookie.startswith(f"csrftoken={reply.body.decode()};")
    assert reply.header("vary") == "Cookie"
    again = asgi_call(middleware, "GET", "/", headers=[(b"cookie", b"csrftoken=" + reply.body)])
    assert again.body == reply.body
    assert again.header("set-cookie") is None
    posted = asgi_call(
        middleware,
        "POST",
        "/",
        headers=[(b"cookie", b"csrftoken=" + reply.body), (b"x-csrf-token", reply.body)],
    )
    assert posted.status == 200


def test_a_raw_form_post_replays_the_body(asgi_call: Call) -> None:
    received: list[dict[str, Any]] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = CSRFMiddleware(raw, secret_key=SECRET)
    token = middleware.new_token().encode()
    chunks = [b"a=1&csrf_", b"token=" + token, b"&b=2"]
    reply = asgi_call(
        middleware,
        "POST",
        "/",
        chunks=chunks,
        headers=[
            (b"cookie", b"csrftoken=" + token),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
    )
    assert reply.status == 200
    assert [m["body"] for m in received] == chunks


def test_csrf_token_without_the_middleware_says_what_to_add() -> None:
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> str:
        return csrf_token(request)

    with pytest.raises(RuntimeError, match="CSRFMiddleware"):
        TestClient(app).get("/")


def test_with_sessions_the_headers_do_not_repeat() -> None:
    app = Bare()
    app.add_middleware(SessionMiddleware, secret_key=SECRET)
    app.add_middleware(CSRFMiddleware, secret_key=SECRET)

    @app.get("/page")
    async def page(request: Request) -> str:
        request.session["seen"] = True
        return csrf_token(request)

    response = TestClient(app).get("/page")
    assert response.headers.getlist("vary") == ["Cookie"]
    names = sorted(h.split("=")[0] for h in response.headers.getlist("set-cookie"))
    assert names == ["csrftoken", "session"]


# -- pass-through and configuration -------------------------------------------------------


async def noop_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_websockets_and_lifespan_pass_through(ws_session: Call) -> None:
    seen: list[str] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert CSRF_KEY not in scope
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    middleware = CSRFMiddleware(raw, secret_key=SECRET)
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    sent = ws_session(middleware, "/ws", [])
    assert sent == [{"type": "websocket.close", "code": 1000}]
    assert seen == ["lifespan", "websocket"]


def test_under_bare_no_send_wrapper_is_added() -> None:
    """The cookie goes through bare's hand-over: the handler's send is bare's own."""
    sends: list[Any] = []

    class Spy:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            sends.append(send)
            await self.app(scope, receive, send)

    outer = Bare()
    outer.add_middleware(Spy)
    outer.add_middleware(CSRFMiddleware, secret_key=SECRET)
    outer.add_middleware(Spy)

    @outer.get("/")
    async def home(request: Request) -> str:
        return csrf_token(request)

    response = TestClient(outer).get("/")
    assert cookie_of(response) == response.text
    assert sends[0] is sends[1]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"secret_key": "short"}, ValueError, "at least 32"),
        ({"secret_key": None}, TypeError, "str or bytes"),
        ({"header_name": "X CSRF"}, ValueError, "header_name"),
        ({"header_name": ""}, ValueError, "header_name"),
        ({"field_name": 'a"b'}, ValueError, "field_name"),
        ({"field_name": "<x>"}, ValueError, "field_name"),
        ({"exempt": "/hooks"}, TypeError, "exempt=\\['/hooks'\\]"),
        ({"exempt": ["hooks"]}, ValueError, "starting with '/'"),
        ({"exempt": ["/a*b"]}, ValueError, "exempt path"),
        ({"exempt": ["/a?b=1"]}, ValueError, "exempt path"),
        ({"exempt": ["/a b"]}, ValueError, "exempt path"),
        ({"exempt": ["/a\nb"]}, ValueError, "exempt path"),
        ({"exempt": [1]}, TypeError, "exempt paths must be str"),
        ({"trusted_origins": "https://a.com"}, TypeError, "a list"),
        ({"trusted_origins": ["https://a.com/"]}, ValueError, "trusted origin"),
        ({"trusted_origins": ["a.com"]}, ValueError, "trusted origin"),
        ({"trusted_origins": ["https://*.a.com"]}, ValueError, "trusted origin"),
        ({"trusted_origins": ["https://user@a.com"]}, ValueError, "trusted origin"),
        ({"trusted_origins": [None]}, ValueError, "trusted origin"),
        ({"check_origin": "no"}, TypeError, "check_origin"),
        ({"cookie_secure": 1}, TypeError, "cookie_secure"),
        ({"cookie_samesite": "none"}, ValueError, "secure=True"),
        ({"cookie_name": "csrf token"}, ValueError, "cookie name"),
        ({"cookie_path": "/;x"}, ValueError, "path"),
        ({"cookie_max_age": 0}, ValueError, "cookie_max_age"),
        ({"max_body_size": 0}, ValueError, "max_body_size"),
        ({"max_body_size": True}, ValueError, "max_body_size"),
    ],
)
def test_configuration_mistakes_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CSRFMiddleware(noop_app, **{"secret_key": SECRET, **options})


def test_the_cookie_options_are_written() -> None:
    client = TestClient(
        make_app(
            cookie_name="xsrf",
            cookie_path="/app",
            cookie_domain="example.com",
            cookie_secure=True,
            cookie_samesite="strict",
            cookie_max_age=3600,
        ),
        base_url="https://example.com",
    )
    header = client.get("/plain").headers["set-cookie"]
    assert header.startswith("xsrf=")
    assert header.split("; ")[1:] == [
        "Max-Age=3600",
        "Domain=example.com",
        "Path=/app",
        "Secure",
        "SameSite=Strict",
    ]


def test_the_json_detail_is_json() -> None:
    response = TestClient(make_app()).post("/submit")
    assert json.loads(response.text) == {"detail": "CSRF cookie missing or invalid"}
    assert response.headers["content-type"].startswith("application/json")
