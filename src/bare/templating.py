"""Jinja2 templates: `Jinja2Templates(directory="templates")` and its `TemplateResponse`.

    templates = Jinja2Templates(directory="templates")

    @app.get("/users/{name}")
    def user(request):
        return templates.TemplateResponse(request, "user.html", {"name": ...})

Needs jinja2 (`pip install jinja2`, or the `templates` extra of bare), imported when
`Jinja2Templates` is built, never by `import bare`. Templates whose names end in .html,
.htm, .xml, .xhtml or .svg are autoescaped. Every template gets `request` and
`url_for(name, **params)` (an absolute URL that keeps the app's root path), plus
`csrf_token()` and `csrf_input()` when `CSRFMiddleware` runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .requests import Request
from .responses import HeadersArg, HTMLResponse
from .types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    import jinja2

    from .background import BackgroundTask

__all__ = ["AUTOESCAPED_EXTENSIONS", "Jinja2Templates", "TemplateResponse"]

AUTOESCAPED_EXTENSIONS = ("html", "htm", "xml", "xhtml", "svg")
"""Template name endings that get HTML escaping (`select_autoescape`)."""

ContextProcessor = Callable[[Request], Mapping[str, Any]]
Directory = str | os.PathLike[str]


def _import_jinja2() -> Any:
    try:
        import jinja2
    except ImportError:
        raise ImportError(
            "Jinja2Templates needs jinja2: pip install jinja2 "
            "(or, in a checkout of bare, pip install '.[templates]')"
        ) from None
    return jinja2


class TemplateResponse(HTMLResponse):
    """An HTML response rendered from a template; `Jinja2Templates.TemplateResponse`
    builds it.

    `template` is the `jinja2.Template` and `context` the mapping it was rendered with
    (including `request`), for tests to inspect. With a synchronous environment the body
    is rendered when the response is built; with an async one (`enable_async=True`) it
    is rendered with `render_async` when the response is sent, so the handler's code is
    the same either way and `body` is empty until then.
    """

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: HeadersArg = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        self.rendered = not template.environment.is_async
        body = _render(template, context) if self.rendered else ""
        super().__init__(
            body,
            status_code,
            headers,
            ... if media_type is None else media_type,
            background=background,
        )

    async def render_async(self) -> None:
        """Render the body now if it is not yet (async environments); idempotent."""
        if not self.rendered:
            text = await _render_async(self.template, self.context)
            self.body = text.encode()
            self.rendered = True

    def messages(self, scope: Scope) -> tuple[Message, Message]:
        if not self.rendered:
            raise RuntimeError(
                "this template's environment is async: send the response "
                "(`await response(scope, receive, send)`) or `await response.render_async()` "
                "before asking for its messages"
            )
        return super().messages(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Rendered before anything is sent: a template error is still a clean 500.
        await self.render_async()
        await super().__call__(scope, receive, send)


_TemplateResponse = TemplateResponse  # for the method of the same name


def _render(template: jinja2.Template, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except Exception as exc:
        _locate(exc, template.environment, template.name)
        raise


async def _render_async(template: jinja2.Template, context: dict[str, Any]) -> str:
    try:
        return await template.render_async(context)
    except Exception as exc:
        _locate(exc, template.environment, template.name)
        raise


def _locate(exc: BaseException, env: jinja2.Environment, rendered: str | None) -> None:
    """Note on a failed render's exception where in which template it happened, so the
    debug page and the logs name the template and line (Python 3.11+ shows notes)."""
    add_note = getattr(exc, "add_note", None)
    if add_note is None or getattr(exc, "_bare_located", False):
        return
    import jinja2

    name: str | None = None
    line: int | None = None
    if isinstance(exc, jinja2.TemplateSyntaxError):
        name, line = exc.name or rendered, exc.lineno
    else:
        # Jinja rewrites tracebacks so that template code shows as frames of the
        # template's file; the innermost of those is where it failed.
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            if "__jinja_exception__" in tb.tb_frame.f_globals:
                name = _template_name(env, tb.tb_frame.f_code.co_filename)
                line = tb.tb_lineno
            tb = tb.tb_next
    if line is None:
        return
    add_note(f"in template {name!r}, line {line}")
    exc._bare_located = True  # type: ignore[attr-defined]


def _template_name(env: jinja2.Environment, filename: str) -> str:
    """`filename` as a name relative to the loader's directory, when it is in one."""
    if os.path.isabs(filename):
        for root in getattr(env.loader, "searchpath", ()):
            relative = os.path.relpath(filename, os.path.abspath(root))
            if not relative.startswith(os.pardir):
                return relative.replace(os.sep, "/")
    return filename


class Jinja2Templates:
    """Templates from `directory` (a path or a list of paths, searched in order), or
    from an existing `env` (a `jinja2.Environment`); one of the two, not both.

    `context_processors` are functions `fn(request) -> dict` whose items every template
    gets. Further keyword options go to `jinja2.Environment` (`enable_async=True`,
    `undefined=jinja2.StrictUndefined`, ...); autoescaping is on for .html, .htm, .xml,
    .xhtml and .svg templates unless `autoescape` is given.

    `url_for`, `csrf_token` and `csrf_input` are added to the environment's globals
    unless it already has globals of those names.
    """

    def __init__(
        self,
        directory: Directory | Sequence[Directory] | None = None,
        *,
        env: jinja2.Environment | None = None,
        context_processors: Iterable[ContextProcessor] = (),
        **env_options: Any,
    ) -> None:
        j2 = _import_jinja2()
        if env is not None:
            if directory is not None:
                raise TypeError(
                    "Jinja2Templates: give directory= or env=, not both "
                    "(set the loader on the environment you pass)"
                )
            if env_options:
                raise TypeError(
                    "Jinja2Templates: options for jinja2.Environment "
                    f"({', '.join(sorted(env_options))}) do not apply to an env= you built; "
                    "set them on that environment"
                )
            if not isinstance(env, j2.Environment):
                raise TypeError(f"env= is a jinja2.Environment, not {type(env).__name__}")
        elif directory is None:
            raise TypeError("Jinja2Templates needs directory= (or env=, a jinja2.Environment)")
        else:
            directories = _directories(directory)
            env_options.setdefault("autoescape", j2.select_autoescape(AUTOESCAPED_EXTENSIONS))
            env = j2.Environment(loader=j2.FileSystemLoader(directories), **env_options)
        self.context_processors = _processors(context_processors)
        self.env: jinja2.Environment = env
        env.globals.setdefault("url_for", j2.pass_context(_url_for))
        env.globals.setdefault("csrf_token", j2.pass_context(_csrf_token))
        env.globals.setdefault("csrf_input", j2.pass_context(_csrf_input))

    def get_template(self, name: str) -> jinja2.Template:
        """The template called `name` (`jinja2.TemplateNotFound` if there is none)."""
        try:
            return self.env.get_template(name)
        except Exception as exc:
            _locate(exc, self.env, name)  # a syntax error: where it is
            raise

    def TemplateResponse(  # the name Starlette users know
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: HeadersArg = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        """Render template `name` with `context` (plus `request`, `url_for` and what the
        context processors give) as an HTML response (`media_type` to change its type),
        with `background` to run once it is sent.

        Raises `jinja2.TemplateNotFound` for a missing template and the template's own
        errors (an app answers both with a 500).
        """
        if not isinstance(request, Request):
            raise TypeError(
                "TemplateResponse(request, name, context): the request comes first, "
                f"not {type(request).__name__}"
            )
        if not isinstance(name, str):
            raise TypeError(f"a template name is a str, not {type(name).__name__}")
        values: dict[str, Any] = {"request": request}
        for processor in self.context_processors:
            values.update(processor(request))
        if context:
            values.update(context)
        template = self.get_template(name)
        return _TemplateResponse(
            template, values, status_code, headers, media_type, background=background
        )


def _directories(directory: Directory | Sequence[Directory]) -> list[str]:
    if isinstance(directory, (str, os.PathLike)):
        paths = [directory]
    elif isinstance(directory, Sequence) and directory:
        paths = list(directory)
    else:
        raise TypeError("directory= is a path or a non-empty list of paths")
    found: list[str] = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"a template directory is a str or a Path, not {type(path).__name__}")
        text = os.fspath(path)
        if not os.path.isdir(text):
            raise ValueError(f"the template directory {text!r} does not exist")
        found.append(text)
    return found


def _processors(processors: Iterable[ContextProcessor]) -> list[ContextProcessor]:
    import inspect

    found = list(processors)
    for processor in found:
        if not callable(processor):
            raise TypeError(f"a context processor is a function of the request, not {processor!r}")
        if inspect.iscoroutinefunction(processor):
            raise TypeError(
                f"context processor {processor!r} is async: context processors are plain "
                "functions (fn(request) -> dict)"
            )
    return found


def _request(context: Any) -> Request:
    request = context.get("request")
    if not isinstance(request, Request):
        raise RuntimeError("this template was not rendered with a request in its context")
    return request


def _url_for(context: Any, name: str, /, **params: Any) -> str:
    return str(_request(context).url_for(name, **params))


def _csrf_token(context: Any) -> str:
    from .middleware.csrf import csrf_token

    return csrf_token(_request(context))


def _csrf_input(context: Any) -> Any:
    from markupsafe import Markup

    from .middleware.csrf import csrf_input

    # csrf_input builds its markup from checked characters only: safe as it is.
    return Markup(csrf_input(_request(context)))
