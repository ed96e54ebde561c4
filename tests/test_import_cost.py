"""`import bare` stays cheap: modules that only some requests need are loaded when they
are first needed, not at import. (How long the import takes is measured, not tested:
see docs/performance.md.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Each of these costs milliseconds to import and serves a path most requests never take.
LAZY = [
    "email.utils",  # cookie Expires dates
    "uuid",  # {id:uuid} parameters (and the uuid module asks the platform its name)
    "decimal",  # building URLs with float parameters
    "html",  # debug pages
    "platform",  # implementation checks: sys.implementation is enough
    "concurrent.futures",  # thread pools, made when a sync handler first runs
    "mimetypes",  # file responses
    "urllib.parse",  # URLs, query strings, Location headers (it loads ipaddress too)
    "http",  # status phrases for error details
    "bare.forms",  # request.form(), and FormData, FormLimits and UploadFile from bare
    "bare.background",  # background tasks, and BackgroundTask(s) from bare
    "bare.params",  # typed handlers: Query, Depends... from bare
    "bare._signature",  # typed handlers, analysed when registered
    "bare._injection",
    "msgspec",  # typed handlers' validation
    "pydantic",
    "bare.openapi",  # the OpenAPI document, built when first asked for
    "bare._docs_ui",  # /docs, loaded by Bare() unless turned off
    "tempfile",  # uploads spooled to disk
    "bare.shutdown",  # closing connections at shutdown, for apps that wire it
    "bare.broadcast",  # publish/subscribe, imported by apps that use it
    "redis",  # bare.sessions.RedisStore (and the Redis backends), made by apps that use them
]


def _loaded_after(code: str) -> set[str]:
    # orjson loads uuid, datetime and dataclasses itself: block it to see bare's own imports.
    script = (
        "import sys; sys.modules['orjson'] = None\n"
        f"{code}\n"
        "import json; print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_import_bare_leaves_the_occasional_modules_unloaded() -> None:
    baseline = _loaded_after("import asyncio")
    loaded = _loaded_after("import asyncio, bare")
    assert sorted((loaded - baseline) & set(LAZY)) == []


@pytest.mark.parametrize(
    ("code", "module"),
    [
        (
            "from bare import Bare\n"
            "from bare.testing import TestClient\n"
            "app = Bare()\n"
            "app.add_route('/{u:uuid}', lambda r: str(type(r.path_params['u']).__name__))\n"
            "assert TestClient(app).get('/12345678-1234-5678-1234-567812345678').text == 'UUID'",
            "uuid",
        ),
        ("from bare import UploadFile", "bare.forms"),
        (
            "import bare\nassert bare.BackgroundTasks.__module__ == 'bare.background'",
            "bare.background",
        ),
        (
            "from bare import Bare\n"
            "app = Bare()\n"
            "app.add_route('/{x:float}', lambda r: '', name='f')\n"
            "assert app.url_path_for('f', x=1e-7) == '/0.0000001'",
            "decimal",
        ),
    ],
)
def test_a_lazy_module_is_loaded_when_first_needed(code: str, module: str) -> None:
    assert module in _loaded_after(code)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import bare

    with pytest.raises(AttributeError, match="no attribute 'UploadFiles'"):
        bare.UploadFiles  # noqa: B018
