"""The routes an app serves its OpenAPI document and documentation page on.

`/openapi.json` serves `app.openapi()`. `/docs` serves Swagger UI from the files of
the swagger-ui-py package, through bare's own `StaticFiles`, with no network: the
page, its start-up script and its assets all come from the app, under a
Content-Security-Policy that lets the page load nothing from anywhere else. Without
that package, `/docs` lists the operations in plain HTML and says what to install.

Imported by `Bare()` when either route is on; the document itself is built by
`bare.openapi`, loaded by the first request for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import error_response
from .requests import Request
from .responses import HTMLResponse, Response

if TYPE_CHECKING:
    from .applications import Bare
    from .staticfiles import StaticFiles
    from .types import Receive, Scope, Send

__all__ = [
    "ASSETS",
    "SWAGGER_UI_HINT",
    "check_servers",
    "check_url",
    "check_urls",
    "content_security_policy",
    "swagger_ui_directory",
]

SWAGGER_UI_HINT = "pip install swagger-ui-py (or, in a checkout of bare, pip install '.[docs-ui]')"

# The files of swagger-ui-py's static directory that the page loads; nothing else of
# that directory (an editor, source maps, an OAuth page) is served.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
INIT_SCRIPT = "bare-docs.js"

# Swagger UI, started on the element that carries the document's URL. A file rather
# than an inline script, so that the page's policy can refuse every inline script.
_INIT_JS = """\
"use strict";
(function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-openapi-url"),
    domNode: node,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
"""

_NOSNIFF = ("x-content-type-options", "nosniff")


def check_url(value: Any, what: str) -> str | None:
    """`value` if it can be the path of a documentation route (`/openapi.json`), or None;
    anything else raises with what to write instead."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a path such as '/docs', or None for none, not {value!r}")
    if (
        not value.startswith("/")
        or value == "/"
        or value.endswith("/")
        or "//" in value
        or any(c in value for c in "{}?#%\\")
        or not value.isprintable()
        or not value.isascii()
        or " " in value
    ):
        raise ValueError(
            f"{what} {value!r} is not a plain path: write one that starts with '/', does not "
            "end with one and has no parameters, spaces, '?', '#' or '%' (or None for none)"
        )
    return value


def check_urls(openapi_url: str | None, docs_url: str | None) -> None:
    """Refuse a documentation page without a document, or two routes on one path."""
    if docs_url is None:
        return
    if openapi_url is None:
        raise ValueError(
            "docs_url needs openapi_url: the page shows the document served there; "
            "pass docs_url=None too, or an openapi_url"
        )
    if openapi_url == docs_url or openapi_url.startswith(docs_url + "/assets/"):
        raise ValueError(
            f"openapi_url {openapi_url!r} is taken by the documentation page at "
            f"{docs_url!r} (and its files under {docs_url + '/assets'!r}): give them "
            "different paths"
        )


def check_servers(servers: Any) -> list[dict[str, Any]] | None:
    """The app's `servers=`: a list of OpenAPI Server objects (`{"url": ..., "description":
    ...}`) or of URLs, as dicts; anything else raises saying what is expected."""
    if servers is None:
        return None
    if isinstance(servers, (str, bytes, Mapping)) or not isinstance(servers, Sequence):
        raise TypeError(
            'servers must be a list such as [{"url": "https://api.example.com"}], '
            f"not {servers!r:.80}"
        )
    checked: list[dict[str, Any]] = []
    for server in servers:
        entry = {"url": server} if isinstance(server, str) else server
        if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
            raise TypeError(
                'each server is a URL or a dict with a "url" string, such as '
                f'{{"url": "https://api.example.com"}}, not {server!r:.80}'
            )
        url = entry["url"]
        if not url or not url.isprintable() or any(c.isspace() for c in url):
            raise ValueError(f"server URL {url!r:.80} is empty or has spaces or control characters")
        description = entry.get("description")
        if description is not None and not isinstance(description, str):
            raise TypeError(f"a server's description is a string, not {description!r:.80}")
        checked.append(dict(entry))
    return checked


def content_security_policy(servers: Sequence[Mapping[str, Any]] | None) -> str:
    """The page's policy: scripts, styles, images and requests from the app only (and
    `data:` images, which Swagger UI's stylesheet draws its icons with); requests may
    also go to the origins of absolute `servers` URLs, so that "Try it out" reaches them.
    """
    from urllib.parse import urlsplit

    connect = ["'self'"]
    for server in servers or ():
        parts = urlsplit(server["url"])
        # Only an origin made of plain host characters goes into the header: a `;` or
        # a quote in a URL must not add a directive.
        if (
            parts.scheme in ("http", "https")
            and parts.netloc
            and all(c.isalnum() or c in ".-:[]" for c in parts.netloc)
        ):
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in connect:
                connect.append(origin)
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def swagger_ui_directory() -> str | None:
    """The static directory of the installed swagger-ui-py package, or None.

    Found without importing the package (its import loads Jinja2 and its own adapters,
    of which bare needs nothing).
    """
    from importlib.util import find_spec

    try:
        spec = find_spec("swagger_ui")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        directory = os.path.join(location, "static")
        if all(os.path.isfile(os.path.join(directory, name)) for name in ASSETS):
            return directory
    return None


# -- the routes ---------------------------------------------------------------------------


def add_routes(app: Bare) -> None:
    """Add the routes of `app.openapi_url` and `app.docs_url` (those that are on) to
    `app`, after its own and out of its OpenAPI document; and check that no two of its
    routes were given one `operation_id`.

    Called when the app builds its middleware stack (at startup, or on the first
    request). A path the app already serves with a route of that very path, or with
    a mount under a prefix, is a mistake, as is an `operation_id` given twice: none
    of the routes is added, the mistake is logged, and the app's startup fails with
    it (a `ValueError`), so that a server refuses to start. The routes added win over
    routes with parameters and a mount at the root. A path the app has a route for
    with a slash added (`/docs` when it has `/docs/`) is left to it: that route is not
    added, and a warning says so.
    """
    try:
        _add_routes(app)
    except ValueError as exc:
        # Not raised here: the stack is built by the app's first call, the lifespan
        # one, and a server takes an exception there for an app without lifespan
        # support. Raised by a startup handler, it fails the startup as it should.
        problem = exc
        logging.getLogger("bare").error("%s", problem)

        async def refuse_to_start() -> None:
            raise problem

        app._startup_handlers.insert(0, refuse_to_start)


def _add_routes(app: Bare) -> None:
    from .openapi import check_operation_ids

    openapi_url, docs_url = app.openapi_url, app.docs_url
    if openapi_url is None:
        return
    wanted = [("openapi_url", openapi_url)]
    if docs_url is not None:
        wanted += [("docs_url", docs_url), ("docs_url", f"{docs_url}/assets/{ASSETS[0]}")]
    skipped: set[str] = set()
    for option, path in wanted:
        found = _taken(app, path)
        if found is None:
            continue
        what = "OpenAPI document" if option == "openapi_url" else "documentation page"
        taken, redirected = found
        if not redirected:
            raise ValueError(
                f"{taken} answers GET {path}, where the app would serve its {what}: "
                f"pass Bare({option}=...) another path, or None to serve none"
            )
        logging.getLogger("bare").warning(
            "GET %s redirects to %s: the app's %s is not served there; pass "
            "Bare(%s=...) another path to serve it",
            path,
            taken,
            what,
            option,
        )
        skipped.add(option)
    check_operation_ids(app)
    if "openapi_url" in skipped:
        return
    app.router.add_route(
        openapi_url, openapi_endpoint, ["GET"], name="openapi", include_in_schema=False
    )
    if docs_url is not None and "docs_url" not in skipped:
        app.router.add_route(docs_url, docs_endpoint, ["GET"], name="docs", include_in_schema=False)
        app.router.add_route(
            docs_url + "/assets/{name}",
            docs_asset_endpoint,
            ["GET"],
            name="docs_assets",
            include_in_schema=False,
        )


def _taken(app: Bare, path: str) -> tuple[str, bool] | None:
    """What of the app's already answers GET on `path`, and whether by a redirect; None
    when nothing does, or a route with parameters or a mount at the root does: the
    routes added take precedence over those."""
    from .routing import FOUND, REDIRECT, Mount, Route

    code, target, _ = app.router.resolve("GET", path)
    if code == REDIRECT:
        return f"the app's route {target!r}", True
    if code != FOUND:
        # With redirect_slashes off: a route of the same path with a slash is the
        # app's too (GET /docs would have redirected to its /docs/).
        code, target, _ = app.router.resolve("GET", path + "/")
        if code == FOUND and isinstance(target, Route) and target.template.is_static:
            return f"the app's route {target.path!r}", True
        return None
    if isinstance(target, Route) and target.template.is_static:
        return f"the route {target.path!r} ({target.name})", False
    if isinstance(target, Mount) and target.path:
        return f"the mount {target.path!r}", False
    return None


async def openapi_endpoint(request: Request) -> Response:
    """`GET /openapi.json`: the app's OpenAPI document, as JSON."""
    app: Bare = request.scope["app"]
    return Response(app.openapi_json(), content_type="application/json", headers=[_NOSNIFF])


async def docs_endpoint(request: Request) -> Response:
    """`GET /docs`: Swagger UI, or a plain list of the operations without swagger-ui-py."""
    app: Bare = request.scope["app"]
    root = request.scope.get("root_path", "")
    headers = [
        ("content-security-policy", content_security_policy(app.servers)),
        _NOSNIFF,
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ]
    if app.docs_url is None or app.openapi_url is None:  # switched off after construction
        return error_response(404, "Not Found")
    openapi_url = root + app.openapi_url
    if swagger_ui_directory() is None:
        page = _plain_page(app, openapi_url)
    else:
        page = _swagger_page(app.title, openapi_url, root + app.docs_url + "/assets")
    return HTMLResponse(page, headers=headers)


def _url(path: str) -> str:
    """`path` for an HTML attribute: percent-encoded as a URL, then escaped."""
    from html import escape
    from urllib.parse import quote

    return escape(quote(path, safe="/:@!$&'()*+,;=-._~", errors="surrogatepass"), quote=True)


def _swagger_page(title: str, openapi_url: str, assets: str) -> str:
    from html import escape

    assets = _url(assets)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - API documentation</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{_url(openapi_url)}"></div>
<noscript>This page needs JavaScript; the API is described in
<a href="{_url(openapi_url)}">its OpenAPI document</a>.</noscript>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/{INIT_SCRIPT}"></script>
</body>
</html>
"""


def _plain_page(app: Bare, openapi_url: str) -> str:
    """The operations as an HTML list, for apps without swagger-ui-py installed."""
    from html import escape

    document = app.openapi()
    rows = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue  # "parameters" and other shared fields of the path
            summary = operation.get("summary") or ""
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td>"
                f"<td><code>{escape(path)}</code></td><td>{escape(summary)}</td></tr>"
            )
    title = escape(str(document.get("info", {}).get("title", app.title)))
    table = "\n".join(rows) if rows else '<tr><td colspan="3">No operations.</td></tr>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API documentation</title>
</head>
<body>
<h1>{title}</h1>
<p>The API is described in <a href="{_url(openapi_url)}">its OpenAPI document</a>.
For the interactive documentation (Swagger UI), {escape(SWAGGER_UI_HINT)}.</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>Summary</th></tr></thead>
<tbody>
{table}
</tbody>
</table>
</body>
</html>
"""


async def docs_asset_endpoint(request: Request) -> Response:
    """`GET /docs/assets/{name}`: the page's start-up script, and the few files of
    swagger-ui-py it uses, sent by `StaticFiles` (so with ETags, 304s and ranges). Any
    other name is a 404, as is every name while the package is not installed."""
    name = request.path_params["name"]
    if name == INIT_SCRIPT:
        return Response(
            _INIT_JS,
            headers=[_NOSNIFF, ("cache-control", "no-cache")],
            content_type="text/javascript; charset=utf-8",
        )
    files = _static_files() if name in ASSETS else None
    if files is None:
        return error_response(404, "Not Found")
    return _FromStaticFiles(files, name)


_files: list[StaticFiles] = []  # the StaticFiles of swagger-ui-py, made on first use


def _static_files() -> StaticFiles | None:
    if _files:
        return _files[0]
    directory = swagger_ui_directory()
    if directory is None:
        return None
    from .staticfiles import StaticFiles  # here: only apps showing /docs load it

    _files.append(StaticFiles(directory=directory))
    return _files[0]


class _FromStaticFiles(Response):
    """A response that `StaticFiles` sends: the file `name` of its directory."""

    def __init__(self, files: StaticFiles, name: str) -> None:
        super().__init__()
        self._files = files
        self._name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # StaticFiles serves the path below root_path: make that the file's name.
        await self._files({**scope, "root_path": "", "path": "/" + self._name}, receive, send)
