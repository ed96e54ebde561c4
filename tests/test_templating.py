"""bare.templating: Jinja2Templates and TemplateResponse."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

from bare import Bare, Request
from bare.responses import HTMLResponse
from bare.templating import Jinja2Templates, TemplateResponse
from bare.testing import TestClient

LOOPBACK = "http://127.0.0.1"

TEMPLATES = {
    "page.html": "<p>{{ value }}</p>",
    "page.txt": "text: {{ value }}",
    "page.xml": "<v>{{ value }}</v>",
    "links.html": "{{ url_for('user', name=who) }}|{{ request.url.path }}",
    "plain_url.html": "{{ url_for('home') }}",
    "include.html": "{% include 'part.html' %}",
    "part.html": "[{{ url_for('home') }}]",
    "processors.html": "{{ site }}/{{ user }}",
    "undefined.html": "line one\n{{ missing.attribute }}\n",
    "syntax.html": "one\ntwo\n{% if %}\n",
    "raises.html": "{{ boom() }}",
    "form.html": "<form>{{ csrf_input() }}</form>{{ csrf_token() }}",
}


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def app_with(
    templates: Jinja2Templates,
    name: str,
    context: dict[str, Any] | None = None,
    debug: bool = False,
    **options: Any,
) -> Bare:
    app = Bare(debug=debug)

    @app.get("/")
    def home(request: Request) -> Any:
        return templates.TemplateResponse(request, name, context, **options)

    @app.get("/users/{name}", name="user")
    def user(request: Request) -> str:  # pragma: no cover - only its URL is built
        return ""

    return app


# -- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("page.html", "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"),
        ("page.xml", "<v>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</v>"),
        ("page.txt", 'text: <script>alert("x")</script>'),
    ],
)
def test_autoescape_for_html_and_xml_only(directory: Path, name: str, expected: str) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, name, {"value": '<script>alert("x")</script>'})
    response = TestClient(app).get("/")
    assert response.status_code == 200
    assert response.text == expected
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(expected.encode()))


def test_the_response_carries_template_and_context(directory: Path) -> None:
    templates = Jinja2Templates(directory=str(directory))
    seen: list[TemplateResponse] = []
    app = Bare()

    @app.get("/")
    def home(request: Request) -> Any:
        response = templates.TemplateResponse(request, "page.html", {"value": 7})
        seen.append(response)
        return response

    assert TestClient(app).get("/").text == "<p>7</p>"
    (response,) = seen
    assert isinstance(response, HTMLResponse)
    assert response.template.name == "page.html"
    assert response.context["value"] == 7
    assert isinstance(response.context["request"], Request)
    assert response.body == b"<p>7</p>"


def test_status_headers_and_media_type(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(
        templates,
        "page.txt",
        {"value": "v"},
        status_code=201,
        headers={"x-extra": "1"},
        media_type="text/plain; charset=utf-8",
    )
    response = TestClient(app).get("/")
    assert response.status_code == 201
    assert response.headers["x-extra"] == "1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "text: v"


def test_head_sends_no_body_but_the_length(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory, enable_async=True)
    app = app_with(templates, "page.html", {"value": "abc"})
    response = TestClient(app).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("<p>abc</p>"))


def test_a_bad_header_value_is_refused_in_the_handler(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, "page.html", {"value": 1}, headers={"x-bad": "a\r\nb: c"})
    with pytest.raises(ValueError):
        TestClient(app).get("/")


def test_a_directory_list_is_searched_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "page.html").write_text("first", encoding="utf-8")
    (second / "page.html").write_text("second", encoding="utf-8")
    (second / "other.html").write_text("other", encoding="utf-8")
    templates = Jinja2Templates(directory=[first, str(second)])
    assert TestClient(app_with(templates, "page.html")).get("/").text == "first"
    assert TestClient(app_with(templates, "other.html")).get("/").text == "other"


def test_an_existing_environment(directory: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('home') }}"}))
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert TestClient(app_with(templates, "t.html")).get("/").text == "http://testserver/"


def test_globals_of_the_same_name_are_kept(directory: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('x') }}"}))
    env.globals["url_for"] = lambda name: f"mine:{name}"
    templates = Jinja2Templates(env=env)
    assert TestClient(app_with(templates, "t.html")).get("/").text == "mine:x"


# -- request and url_for ------------------------------------------------------------------


def test_request_and_url_for_keep_the_root_path(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, "links.html", {"who": "a b<c>"})
    client = TestClient(app, root_path="/prefix")
    response = client.get("/")
    assert response.status_code == 200
    # The parameter is quoted in the URL, and the URL escaped in the HTML.
    assert response.text == "http://testserver/prefix/users/a%20b%3Cc%3E|/prefix/"


def test_url_for_works_in_included_templates(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    response = TestClient(app_with(templates, "include.html"), root_path="/r").get("/")
    assert response.text == "[http://testserver/r/]"


def test_url_for_an_unknown_route_is_a_500(directory: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('nope') }}"}))
    app = app_with(Jinja2Templates(env=env), "t.html")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}


def test_url_for_without_a_request_says_so(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    with pytest.raises(RuntimeError, match="request"):
        templates.get_template("plain_url.html").render()


def test_the_user_context_wins_over_processors(directory: Path) -> None:
    def site(request: Request) -> dict[str, Any]:
        return {"site": request.url.path, "user": "from processor"}

    templates = Jinja2Templates(directory=directory, context_processors=[site])
    response = TestClient(app_with(templates, "processors.html", {"user": "<me>"})).get("/")
    assert response.text == "//&lt;me&gt;"
    response = TestClient(app_with(templates, "processors.html")).get("/")
    assert response.text == "//from processor"


# -- async environments -------------------------------------------------------------------


def test_async_environment_renders_when_sent(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory, enable_async=True)
    seen: list[TemplateResponse] = []
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> Any:
        response = templates.TemplateResponse(request, "page.html", {"value": "<b>"})
        assert response.body == b""  # rendered on the way out
        seen.append(response)
        return response

    response = TestClient(app).get("/")
    assert response.text == "<p>&lt;b&gt;</p>"
    assert response.headers["content-length"] == str(len("<p>&lt;b&gt;</p>"))
    assert seen[0].body == b"<p>&lt;b&gt;</p>"


def test_async_environment_awaits_async_values(directory: Path) -> None:
    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {"t.html": "{{ fetch() }}{% for x in items() %}{{ x }}{% endfor %}"}
        ),
        enable_async=True,
    )

    async def fetch() -> str:
        return "fetched:"

    async def items() -> Any:
        for x in (1, 2, 3):
            yield x

    templates = Jinja2Templates(env=env)
    app = app_with(templates, "t.html", {"fetch": fetch, "items": items})
    assert TestClient(app).get("/").text == "fetched:123"


def test_async_response_messages_before_rendering_say_what_to_do(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory, enable_async=True)
    app = Bare()
    caught: list[str] = []

    @app.get("/")
    async def home(request: Request) -> Any:
        response = templates.TemplateResponse(request, "page.html", {"value": 1})
        with pytest.raises(RuntimeError) as info:
            response.messages(request.scope)
        caught.append(str(info.value))
        await response.render_async()
        await response.render_async()  # idempotent
        _, body = response.messages(request.scope)
        assert body["body"] == b"<p>1</p>"
        return response

    assert TestClient(app).get("/").text == "<p>1</p>"
    assert "render_async" in caught[0]


def test_async_template_errors_are_a_clean_500(directory: Path) -> None:
    templates = Jinja2Templates(
        directory=directory, enable_async=True, undefined=jinja2.StrictUndefined
    )
    app = app_with(templates, "undefined.html")
    with pytest.raises(jinja2.UndefinedError):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}


# -- errors -------------------------------------------------------------------------------


def test_a_missing_template_is_a_500_and_reported(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, "nope.html")
    with pytest.raises(jinja2.TemplateNotFound, match=r"nope\.html"):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert "nope" not in response.text


@pytest.mark.parametrize("name", ["../outside.html", "/etc/passwd", "a/../../outside.html"])
def test_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.html").write_text("secret", encoding="utf-8")
    templates = Jinja2Templates(directory=root)
    with pytest.raises(jinja2.TemplateNotFound):
        templates.get_template(name)


@pytest.mark.parametrize("enable_async", [False, True])
@pytest.mark.parametrize(
    ("name", "line"),
    [("undefined.html", 2), ("syntax.html", 3), ("raises.html", 1)],
)
def test_debug_page_names_the_template_and_line(
    directory: Path, name: str, line: int, enable_async: bool
) -> None:
    def boom() -> str:
        raise ValueError("boom <secret>")

    templates = Jinja2Templates(
        directory=directory, undefined=jinja2.StrictUndefined, enable_async=enable_async
    )
    app = app_with(templates, name, {"boom": boom}, debug=True)
    client = TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    text = response.text
    # The template's own frame, and (Python 3.11+) a note with name and line.
    assert f"{name}&quot;, line {line}" in text or f"{name}', line {line}" in text
    if sys.version_info >= (3, 11):
        assert f"in template &#x27;{name}&#x27;, line {line}" in text
    assert "<secret>" not in text  # escaped on the page

    hidden = TestClient(
        app_with(templates, name, {"boom": boom}), base_url=LOOPBACK, raise_server_exceptions=False
    )
    response = hidden.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert name not in response.text


def test_the_note_is_added_once(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory, undefined=jinja2.StrictUndefined)
    app = app_with(templates, "undefined.html")
    with pytest.raises(jinja2.UndefinedError) as info:
        TestClient(app).get("/")
    notes = getattr(info.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert notes == ["in template 'undefined.html', line 2"]


# -- CSRF ---------------------------------------------------------------------------------


def test_csrf_helpers_with_the_middleware(directory: Path) -> None:
    from bare.middleware.csrf import CSRFMiddleware

    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, "form.html")
    app.add_middleware(CSRFMiddleware, secret_key="s" * 32)
    response = TestClient(app).get("/")
    assert response.status_code == 200
    token = response.cookies["csrftoken"]
    # The markup is not escaped; the token appears in the field and on its own.
    assert response.text == (
        f'<form><input type="hidden" name="csrf_token" value="{token}"></form>{token}'
    )
    assert "Cookie" in response.headers["vary"]


def test_csrf_helpers_without_the_middleware_say_what_is_missing(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = app_with(templates, "form.html")
    with pytest.raises(RuntimeError, match="CSRFMiddleware"):
        TestClient(app).get("/")


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: Jinja2Templates(), TypeError, "directory="),
        (lambda d: Jinja2Templates(directory=d, env=jinja2.Environment()), TypeError, "not both"),
        (
            lambda d: Jinja2Templates(env=jinja2.Environment(), enable_async=True),
            TypeError,
            "enable_async",
        ),
        (lambda d: Jinja2Templates(env=object()), TypeError, "jinja2.Environment"),  # type: ignore[arg-type]
        (lambda d: Jinja2Templates(directory=d / "missing"), ValueError, "does not exist"),
        (lambda d: Jinja2Templates(directory=[]), TypeError, "non-empty"),
        (lambda d: Jinja2Templates(directory=[d, 3]), TypeError, "str or a Path"),  # type: ignore[list-item]
        (lambda d: Jinja2Templates(directory=d, context_processors=[1]), TypeError, "function"),  # type: ignore[list-item]
    ],
)
def test_configuration_mistakes_are_refused(
    directory: Path, make: Callable[[Path], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make(directory)


def test_async_context_processors_are_refused(directory: Path) -> None:
    async def processor(request: Request) -> dict[str, Any]:  # pragma: no cover
        return {}

    with pytest.raises(TypeError, match="async"):
        Jinja2Templates(directory=directory, context_processors=[processor])  # type: ignore[list-item]


def test_the_request_comes_first(directory: Path) -> None:
    templates = Jinja2Templates(directory=directory)
    app = Bare()

    @app.get("/")
    def home(request: Request) -> Any:
        return templates.TemplateResponse("page.html", {"request": request})  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="request comes first"):
        TestClient(app).get("/")


def test_missing_jinja2_is_a_clear_import_error(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bare

    monkeypatch.setattr(bare, "templating", bare.templating, raising=False)
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.delitem(sys.modules, "bare.templating")
    fresh = importlib.import_module("bare.templating")
    with pytest.raises(ImportError, match=r"pip install jinja2"):
        fresh.Jinja2Templates(directory=directory)
    monkeypatch.undo()
    assert importlib.import_module("bare.templating").Jinja2Templates is Jinja2Templates


def test_import_bare_does_not_import_templating_or_jinja2() -> None:
    script = "import sys, bare; print('bare.templating' in sys.modules, 'jinja2' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("enable_async", [False, True])
def test_through_middleware(directory: Path, enable_async: bool) -> None:
    templates = Jinja2Templates(directory=directory, enable_async=enable_async)
    app = app_with(templates, "page.html", {"value": "<i>"})

    @app.middleware("http")
    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-seen"] = "yes"
        return response

    response = TestClient(app).get("/")
    assert response.text == "<p>&lt;i&gt;</p>"
    assert response.headers["x-seen"] == "yes"
