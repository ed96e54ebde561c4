"""A bare app serving a temporary directory under /static, for tests/test_staticfiles.py.

The directory is made at import: `root/hello.txt` is served, `secret.txt` sits next
to `root` and must never be.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bare import Bare
from bare.staticfiles import StaticFiles

BASE = Path(tempfile.mkdtemp(prefix="bare-static-"))
(BASE / "root").mkdir()
(BASE / "root" / "hello.txt").write_text("hello from static\n")
(BASE / "secret.txt").write_text("TOP SECRET\n")

app = Bare()
app.mount("/static", StaticFiles(directory=BASE / "root"), name="static")
