"""An app for the real-server tests of sessions and CSRF: log in, see who you are, log out.

Served by uvicorn in another process; the tests drive it with httpx and its cookie jar.
"""

from __future__ import annotations

from typing import Any

from bare import Bare, HTMLResponse, Request
from bare.middleware.csrf import CSRFMiddleware, csrf_input
from bare.middleware.sessions import SessionMiddleware
from bare.sessions import MemoryStore

SECRET = "live-test-secret-0123456789abcdefghij"


def build(store: MemoryStore | None) -> Bare:
    app = Bare()
    app.add_middleware(SessionMiddleware, secret_key=SECRET, store=store)
    app.add_middleware(CSRFMiddleware, secret_key=SECRET)

    @app.get("/form")
    async def form(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<form method="post" action="/login">{csrf_input(request)}</form>')

    @app.post("/login")
    async def login(request: Request) -> dict[str, Any]:
        form = await request.body()
        request.session.regenerate()
        request.session["user"] = "ann"
        return {"logged_in": True, "body": form.decode()}

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": request.session.get("user")}

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, Any]:
        request.session.clear()
        return {"logged_in": False}

    return app


app = build(None)
store_app = build(MemoryStore())
