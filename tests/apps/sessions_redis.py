"""An app for the real-server tests of RedisStore (tests/test_sessions_redis.py): log in,
see who you are, log out, with the sessions in the Redis that `BARE_TEST_REDIS_URL` names.

Served by uvicorn in another process; the store's connections are closed at shutdown.
"""

from __future__ import annotations

import os
from typing import Any

from bare import Bare, Request
from bare.middleware.sessions import SessionMiddleware
from bare.sessions import RedisStore

SECRET = "live-redis-secret-0123456789abcdefghij"

store = RedisStore(os.environ["BARE_TEST_REDIS_URL"], prefix="live:", timeout=0.5)
app = Bare()
app.add_middleware(SessionMiddleware, secret_key=SECRET, store=store)
app.on_shutdown(store.close)


@app.post("/login")
async def login(request: Request) -> dict[str, Any]:
    request.session.regenerate()
    request.session["user"] = "ann"
    return {"logged_in": True}


@app.get("/me")
async def me(request: Request) -> dict[str, Any]:
    return {"user": request.session.get("user")}


@app.post("/logout")
async def logout(request: Request) -> dict[str, Any]:
    request.session.clear()
    return {"logged_in": False}


@app.get("/plain")
async def plain(request: Request) -> str:
    return "plain"
