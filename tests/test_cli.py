"""The `bare` command: routes and run, its mistakes, and how it hands an app to uvicorn."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bare.__main__ import main
from test_live_servers import free_port, serve

ROOT = Path(__file__).resolve().parent.parent

APPS = """\
import os

from bare import Bare, Router

app = Bare()
router = Router()
number = 42


async def asgi(scope, receive, send):
    pass


def sync(scope, receive, send):
    pass


async def two_arguments(scope, receive):
    pass


class Middleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


class SyncMiddleware:
    def __call__(self, scope, receive, send):
        pass


wrapped = Middleware(app)
sync_wrapped = SyncMiddleware()
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A current directory holding `apps.py` (APPS); its modules are forgotten afterwards."""
    (tmp_path / "apps.py").write_text(APPS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    # Another test may have imported tests/apps/ as the package `apps`: hide it meanwhile.
    for name in [n for n in sys.modules if n == "apps" or n.startswith("apps.")]:
        monkeypatch.delitem(sys.modules, name)
    importlib.invalidate_caches()
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """What `uvicorn.run` is called with; no server is started."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("bare: "), err
    assert "Traceback" not in err
    return err


# -- routes --------------------------------------------------------------------------------


def test_routes_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bare", "routes", "examples.tasks:app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    # In the order they were added: the static mount, the clock's router, then the app's own.
    assert lines[1].split()[:3] == ["*", "/static/...", "static"] and "StaticFiles" in lines[1]
    assert lines[2].split() == ["GET", "/clock", "clock", "examples.clock.clock"]
    assert lines[3].split() == ["GET", "/", "index", "examples.tasks.index"]
    assert ["PATCH", "/tasks/{task_id:uuid}", "update_task", "examples.tasks.update_task"] in [
        line.split() for line in lines
    ]
    assert lines[-1].split() == ["WEBSOCKET", "/ws", "chat", "examples.tasks.chat"]


def test_routes_of_a_router(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "apps:router"]) == 0
    assert capsys.readouterr().out.split() == ["METHODS", "PATH", "NAME", "HANDLER"]


def test_a_missing_module_is_one_line_and_status_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bare", "routes", "nosuchmodule:app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"bare: no module named 'nosuchmodule' in the current directory ({ROOT}) or on sys.path"
    ]


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_closed_stdout_ends_quietly(buffered: bool) -> None:
    # The reading end is closed before bare starts, so its first write fails for sure:
    # when it prints (unbuffered) or when it flushes (buffered).
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bare", "routes", "examples.tasks:app"],
            cwd=ROOT,
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")


# -- mistakes: one line on stderr, status 2 ------------------------------------------------

SHAPE = "is not module:attribute, as in examples.tasks:app"
NOT_ASGI = ": an ASGI app is an async callable app(scope, receive, send), such as a Bare()"
NOT_BARE = ", not a bare app: `bare routes` needs a Bare or a Router"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["routes", "nosuch.module:app"], "no module named 'nosuch' in the current directory"),
        (["routes", "apps:nope"], "'apps' has no attribute 'nope'"),
        (["routes", "apps:app.nope"], "'apps' has no attribute 'app.nope'"),
        (["routes", "apps:"], f"'apps:' {SHAPE}"),
        (["routes", ":app"], f"':app' {SHAPE}"),
        (["routes", "apps:app:app"], f"'apps:app:app' {SHAPE}"),
        (["routes", "my-apps:app"], f"'my-apps:app' {SHAPE}"),
        (
            ["routes", "./apps.py"],
            "'./apps.py' is a file path: name the module instead, with dots, as in apps:app",
        ),
        (
            ["run", "pkg/apps.py:router"],
            "is a file path: name the module instead, with dots, as in pkg.apps:router",
        ),
        (["routes", "apps:number"], f"apps:number is of type int{NOT_BARE}"),
        (["routes", "apps:wrapped"], f"apps:wrapped is of type Middleware{NOT_BARE}"),
        (["routes", "apps:asgi"], f"apps:asgi is the function asgi{NOT_BARE}"),
        (["run", "apps:number"], f"apps:number is of type int, which is not callable{NOT_ASGI}"),
        (["run", "apps:sync"], f"apps:sync is the function sync, which is not async{NOT_ASGI}"),
        (
            ["run", "apps:sync_wrapped"],
            f"apps:sync_wrapped is of type SyncMiddleware, whose __call__ is not async{NOT_ASGI}",
        ),
        (
            ["run", "apps:two_arguments"],
            "apps:two_arguments is the function two_arguments, "
            f"not callable as app(scope, receive, send){NOT_ASGI}",
        ),
        (
            ["run", "apps:Middleware"],
            f"apps:Middleware is the class Middleware, not an app{NOT_ASGI}",
        ),
        (["run", "apps:os"], f"apps:os is the module os, not an app{NOT_ASGI}"),
        (
            ["run", "apps", "--reload", "--workers", "2"],
            "--reload serves from one process: drop --workers or --reload",
        ),
    ],
)
def test_mistakes(
    workdir: Path,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    message: str,
) -> None:
    assert main(command) == 2
    assert message in one_line_error(capsys)
    assert uvicorn_calls == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import os\n\nraise RuntimeError('DATABASE_URL\\nis not set')\n",
            "RuntimeError: DATABASE_URL is not set ({path}, line 3)",
        ),
        (
            "import nosuchdependency\n",
            "ModuleNotFoundError: No module named 'nosuchdependency' ({path}, line 1)",
        ),
        # Python words the message its own way from one version to the next.
        ("x = = 1\n", "SyntaxError: {any} (broken.py, line 1)"),
    ],
    ids=["raises", "missing-dependency", "syntax"],
)
@pytest.mark.parametrize("command", ["routes", "run"])
def test_an_error_in_the_users_module_is_shown_in_one_line(
    workdir: Path,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    source: str,
    message: str,
    command: str,
) -> None:
    path = workdir / "broken.py"
    path.write_text(source)
    assert main([command, "broken:app"]) == 2
    expected = re.escape(f"bare: importing 'broken' failed: {message}\n")
    pattern = expected.replace(re.escape("{path}"), re.escape(str(path)))
    assert re.fullmatch(pattern.replace(re.escape("{any}"), "[^\n]+"), one_line_error(capsys))
    assert uvicorn_calls == []


def test_run_with_a_non_asgi_object_does_not_serve(tmp_path: Path) -> None:
    (tmp_path / "apps.py").write_text(APPS)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "bare", "run", "apps:number", "--port", str(port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"bare: apps:number is of type int, which is not callable{NOT_ASGI}"
    ]


def test_run_without_uvicorn_says_what_to_install(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails
    assert main(["run", "apps:app"]) == 2
    error = one_line_error(capsys)
    assert error.startswith("bare: uvicorn cannot be imported")
    assert "pip install uvicorn uvloop httptools websockets" in error


def test_no_install_hint_names_the_pypi_project_called_bare() -> None:
    # `bare` on PyPI is another project: `pip install 'bare[speedups]'` installs that.
    files = [*ROOT.glob("src/bare/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    offenders = [str(f) for f in files if re.search(r"bare\[\w+\]", f.read_text())]
    assert offenders == []


# -- run: what uvicorn is handed ------------------------------------------------------------


def test_run_help_documents_every_option_and_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", "--help"])
    assert raised.value.code == 0
    entries: dict[str, str] = {}
    for line in capsys.readouterr().out.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            option = line.split()[0]
            entries[option] = line
        elif line.startswith("   ") and entries:
            entries[option] += line
    helps = {option: " ".join(text.split()) for option, text in entries.items()}
    assert set(helps) == {"-h,", "--host", "--port", "--workers", "--reload"}
    assert helps["--host"].endswith("(default: 127.0.0.1)")
    assert helps["--port"].endswith("(default: 8000)")
    assert helps["--workers"].endswith("(default: $WEB_CONCURRENCY if set, else 1)")
    assert helps["--reload"].endswith("(default: off)")


def test_run_hands_uvicorn_an_import_string_and_the_fast_engine(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Stand-ins: whether the real ones are installed does not matter here.
    monkeypatch.setitem(sys.modules, "uvloop", types.ModuleType("uvloop"))
    monkeypatch.setitem(sys.modules, "httptools", types.ModuleType("httptools"))
    assert main(["run", "apps", "--host", "0.0.0.0", "--port", "9001"]) == 0
    assert uvicorn_calls == [
        (
            "apps:app",
            {
                "host": "0.0.0.0",
                "port": 9001,
                "loop": "uvloop",
                "http": "httptools",
                "reload": False,
            },
        )
    ]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("options", "expected"),
    [(["--reload"], {"reload": True}), (["--workers", "3"], {"reload": False, "workers": 3})],
)
def test_run_passes_reload_and_workers(
    workdir: Path,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    options: list[str],
    expected: dict[str, Any],
) -> None:
    assert main(["run", "apps:wrapped", *options]) == 0
    [(app, given)] = uvicorn_calls
    assert app == "apps:wrapped"
    assert {key: given[key] for key in ("reload", "workers") if key in given} == expected


@pytest.mark.parametrize(
    ("missing", "engine", "warning"),
    [
        (("uvloop", "httptools"), ("asyncio", "h11"), "uvloop and httptools cannot be imported"),
        (("uvloop",), ("asyncio", "httptools"), "uvloop cannot be imported"),
        (("httptools",), ("uvloop", "h11"), "httptools cannot be imported"),
    ],
)
def test_run_falls_back_to_asyncio_and_h11_with_a_warning(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    missing: tuple[str, ...],
    engine: tuple[str, str],
    warning: str,
) -> None:
    for name in ("uvloop", "httptools"):
        # None in sys.modules makes `import name` fail, as if it were not installed.
        stand_in = None if name in missing else types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, stand_in)
    assert main(["run", "apps:app"]) == 0
    [(_, options)] = uvicorn_calls
    assert (options["loop"], options["http"]) == engine
    err = capsys.readouterr().err
    assert err == (
        f"bare: {warning}, serving on {engine[0]} + {engine[1]}, which is slower "
        f"(pip install {' '.join(missing)} for the fast stack)\n"
    )


def test_app_run_keeps_the_engine_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bare import Bare

    monkeypatch.setitem(sys.modules, "uvloop", None)
    app = Bare()
    app.run(port=9002, loop="asyncio", http="h11", log_level="warning")
    assert uvicorn_calls == [
        (
            app,
            {
                "host": "127.0.0.1",
                "port": 9002,
                "loop": "asyncio",
                "http": "h11",
                "log_level": "warning",
            },
        )
    ]
    assert capsys.readouterr() == ("", "")  # nothing to warn about: no engine was picked


def test_run_serves_the_app() -> None:
    # The normal path, on whatever engine is installed.
    port = free_port()
    command = [sys.executable, "-m", "bare", "run", "examples.tasks:app", "--port", str(port)]
    for address in serve(command, port):
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            assert client.get("/tasks").json() == []


def test_app_run_with_reload_names_the_script(tmp_path: Path) -> None:
    script = tmp_path / "myapp.py"
    script.write_text(
        "from bare import Bare\n"
        "from bare._server import import_string\n"
        "app = Bare()\n"
        "if __name__ == '__main__':\n"
        "    print(import_string(app))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == repr(("myapp:app", str(tmp_path)))
    done = subprocess.run(
        [sys.executable, "-m", "myapp"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == repr(("myapp:app", str(tmp_path)))


# -- openapi -------------------------------------------------------------------------------

DOCUMENTED = """\
import msgspec

from bare import Bare, Router


class Task(msgspec.Struct):
    title: str
    done: bool = False


app = Bare(title="Tasks", version="1.2.3")
router = Router()
clash = Bare()


@app.get("/tasks/{task_id:int}")
async def read_task(task_id: int) -> Task:
    \"\"\"Read one task.\"\"\"
    return Task("write")


@app.post("/tasks", status_code=201, summary="Créer")
async def create_task(task: Task) -> Task:
    return task


@clash.get("/a", operation_id="same")
async def a(request):
    return "a"


@clash.get("/b", operation_id="same")
async def b(request):
    return "b"
"""


@pytest.fixture
def documented(workdir: Path) -> Path:
    (workdir / "documented.py").write_text(DOCUMENTED)
    return workdir


def test_openapi_prints_the_document_as_json(
    documented: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["openapi", "documented:app"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == sys.modules["documented"].app.openapi()
    assert out.startswith('{\n  "openapi": "3.1.0",\n  "info": {\n    "title": "Tasks",')
    assert '"summary": "Créer"' in out  # UTF-8 as it is, not escaped
    assert out.endswith("}\n")


@pytest.mark.parametrize(
    ("indent", "line"), [("0", None), ("4", '    "openapi": "3.1.0",')], ids=["zero", "four"]
)
def test_openapi_indent(
    documented: Path, capsys: pytest.CaptureFixture[str], indent: str, line: str | None
) -> None:
    assert main(["openapi", "documented:app", "--indent", indent]) == 0
    lines = capsys.readouterr().out.splitlines()
    if line is None:
        assert len(lines) == 1 and lines[0].startswith('{"openapi":"3.1.0","info":')
    else:
        assert lines[1] == line


def test_openapi_yaml(documented: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    assert main(["openapi", "documented:app", "--yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("openapi: 3.1.0\ninfo:\n  title: Tasks\n  version: 1.2.3\n")
    assert yaml.safe_load(out) == sys.modules["documented"].app.openapi()
    assert "summary: Créer" in out


def test_openapi_yaml_without_pyyaml_says_what_to_install(
    documented: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    assert main(["openapi", "documented:app", "--yaml"]) == 2
    assert one_line_error(capsys) == (
        "bare: --yaml needs PyYAML: pip install pyyaml "
        "(or, in a checkout of bare, pip install '.[docs-ui]')\n"
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["openapi", "documented:router"],
            "documented:router is a Router: `bare openapi` needs a Bare app",
        ),
        (
            ["openapi", "documented:Task"],
            "documented:Task is the class Task, not a bare app: `bare openapi` needs a Bare\n",
        ),
        (
            ["openapi", "documented:clash"],
            "the OpenAPI document cannot be built: ValueError: operation_id 'same' is given "
            "to two routes, '/a' (a) and '/b' (b): give each its own",
        ),
        (["openapi", "nosuch:app"], "no module named 'nosuch' in the current directory"),
    ],
    ids=["router", "not-an-app", "duplicate-operation-id", "missing-module"],
)
def test_openapi_mistakes(
    documented: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    assert main(command) == 2
    assert message in one_line_error(capsys)


@pytest.mark.parametrize(
    "indent", ["-1", "9", "two", ""], ids=["negative", "nine", "word", "empty"]
)
def test_openapi_refuses_an_indent_out_of_range(
    documented: Path, capsys: pytest.CaptureFixture[str], indent: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["openapi", "documented:app", "--indent", indent])
    assert raised.value.code == 2
    assert "is not a whole number from 0 to 8" in capsys.readouterr().err


def test_openapi_runs_as_a_command(documented: Path) -> None:
    import json

    done = subprocess.run(
        [sys.executable, "-m", "bare", "openapi", "documented:app"],
        cwd=documented,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    document = json.loads(done.stdout)
    assert list(document["paths"]) == ["/tasks/{task_id}", "/tasks"]
    assert document["components"]["schemas"]["Task"]["required"] == ["title"]
