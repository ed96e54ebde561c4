"""A bare app serving a temporary directory under /static, for tests/test_staticfiles.py.

The directory is made at import: the files in `root` are served; `secret.txt` and
`outdir/` sit next to `root` and must never be, also through the links in `root` that
point at them.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import brotli

from bare import Bare
from bare.staticfiles import StaticFiles

BASE = Path(tempfile.mkdtemp(prefix="bare-static-"))
ROOT = BASE / "root"
ROOT.mkdir()
(ROOT / "hello.txt").write_text("hello from static\n")
# 256 KiB whose every 4-byte word is its own offset: any slice tells where it came from.
LARGE = b"".join(offset.to_bytes(4, "big") for offset in range(0, 256 * 1024, 4))
(ROOT / "large.bin").write_bytes(LARGE)
SCRIPT = b"console.log('served compressed');\n" * 200
(ROOT / "app.js").write_bytes(SCRIPT)
(ROOT / "app.js.br").write_bytes(brotli.compress(SCRIPT))
(ROOT / "app.js.gz").write_bytes(gzip.compress(SCRIPT, mtime=0))
(BASE / "secret.txt").write_text("TOP SECRET\n")
(BASE / "outdir").mkdir()
(BASE / "outdir" / "secret.txt").write_text("TOP SECRET\n")
(ROOT / "link_out.txt").symlink_to(BASE / "secret.txt")
(ROOT / "link_dir_out").symlink_to(BASE / "outdir", target_is_directory=True)

app = Bare()
app.mount("/static", StaticFiles(directory=ROOT), name="static")
