"""StaticFiles over a temporary directory whose files change while they are sent, for
tests/test_staticfiles.py.

Each request for `shrinks.bin` or `vanishes.bin` writes the file anew (`LARGE`, 512
KiB) before it is served; once the first body message has gone out, `shrinks.bin` is
cut to 10 bytes and `vanishes.bin` is removed. `steady.txt` stays as it is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bare.staticfiles import StaticFiles

ROOT = Path(tempfile.mkdtemp(prefix="bare-static-changing-"))
LARGE = b"".join(offset.to_bytes(4, "big") for offset in range(0, 512 * 1024, 4))
(ROOT / "steady.txt").write_text("steady\n")
static = StaticFiles(directory=ROOT)


def _shrink(path: Path) -> None:
    os.truncate(path, 10)


CHANGES = {"/shrinks.bin": _shrink, "/vanishes.bin": Path.unlink}


async def app(scope: Any, receive: Any, send: Any) -> None:
    change = CHANGES.get(scope.get("path", ""))
    if change is None:
        await static(scope, receive, send)
        return
    path = ROOT / scope["path"].lstrip("/")
    path.write_bytes(LARGE)
    changed = False

    async def send_then_change(message: Any) -> None:
        nonlocal changed
        await send(message)
        if message["type"] == "http.response.body" and not changed:
            changed = True
            change(path)

    await static(scope, receive, send_then_change)
