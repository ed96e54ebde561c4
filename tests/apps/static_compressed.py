"""A bare app serving static files behind CompressionMiddleware, for
tests/test_static_compression.py: `page.html` has no precompressed sibling, `app.js`
has a gzip one, `large.txt` is big enough to go out in several chunks."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from bare import Bare
from bare.middleware.compression import CompressionMiddleware
from bare.staticfiles import StaticFiles

ROOT = Path(tempfile.mkdtemp(prefix="bare-static-compressed-"))
PAGE = b"<!doctype html><title>page</title>" + b"<p>compress me</p>\n" * 400
(ROOT / "page.html").write_bytes(PAGE)
SCRIPT = b"console.log('precompressed');\n" * 300
(ROOT / "app.js").write_bytes(SCRIPT)
# A sibling whose bytes differ from gzip.compress(SCRIPT) at any level: served as it is.
SCRIPT_GZ = gzip.compress(SCRIPT, compresslevel=1, mtime=12345)
(ROOT / "app.js.gz").write_bytes(SCRIPT_GZ)
LARGE = b"".join(b"line %07d of a large text file\n" % n for n in range(40_000))
(ROOT / "large.txt").write_bytes(LARGE)

app = Bare()
app.add_middleware(CompressionMiddleware, encodings=("gzip",))
app.mount("/static", StaticFiles(directory=ROOT), name="static")
