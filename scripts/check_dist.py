"""Check the wheels that `make dist` built: what each one must and must not carry.

Usage: python scripts/check_dist.py [DIST_DIR]   (default: dist)

- the compiled wheel (a platform tag) holds both compiled modules, without debug sections
  (read with `readelf -S`, from binutils, which comes with the C compiler);
- the pure wheel (py3-none-any) holds no compiled module;
- neither holds the Cython or C sources.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

COMPILED = ("_router", "_headers")
SOURCES = (".pyx", ".c", ".html")
LIBRARIES = (".so", ".pyd")


def debug_sections(library: bytes) -> list[str]:
    """The names of the `.debug*` sections of an ELF shared library."""
    readelf = shutil.which("readelf")
    if readelf is None:
        sys.exit("check_dist: readelf not found: install binutils")
    with tempfile.NamedTemporaryFile(suffix=".so") as file:
        file.write(library)
        file.flush()
        listing = subprocess.run(
            [readelf, "-S", "-W", file.name], capture_output=True, text=True, check=True
        ).stdout
    names = (word for line in listing.splitlines() for word in line.replace("]", "] ").split())
    return sorted({name for name in names if name.startswith((".debug", ".zdebug"))})


def check(wheel: Path) -> list[str]:
    """What is wrong with `wheel`, one line each."""
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        problems += [f"{name}: a source file" for name in names if name.endswith(SOURCES)]
        libraries = [name for name in names if name.endswith(LIBRARIES)]
        if wheel.name.endswith("-py3-none-any.whl"):
            problems += [f"{name}: a compiled module in the pure wheel" for name in libraries]
            problems += [
                f"bare/{module}_py.py is missing"
                for module in COMPILED
                if f"bare/{module}_py.py" not in names
            ]
            return problems
        for module in COMPILED:
            if not any(name.startswith(f"bare/{module}.") for name in libraries):
                problems.append(f"the compiled module bare/{module} is missing")
        for name in libraries:
            data = archive.read(name)
            if data[:4] != b"\x7fELF":
                continue  # not ELF (macOS, Windows): no readelf to ask
            sections = debug_sections(data)
            if sections:
                problems.append(f"{name} ({len(data) // 1024} KiB) has debug sections {sections}")
    return problems


def main() -> int:
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    wheels = sorted(dist.glob("bare-*.whl"))
    pure = [wheel for wheel in wheels if wheel.name.endswith("-py3-none-any.whl")]
    if not pure or len(pure) == len(wheels):
        print(f"check_dist: {dist} needs a compiled and a pure wheel (make dist)", file=sys.stderr)
        return 1
    failed = False
    for wheel in wheels:
        problems = check(wheel)
        failed = failed or bool(problems)
        size = wheel.stat().st_size // 1024
        print(f"check_dist: {wheel.name} ({size} KiB): {'FAILED' if problems else 'ok'}")
        for problem in problems:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
