"""Install the requirements of some of bare's extras, without building bare again.

Usage: .venv/bin/python scripts/install_extras.py EXTRA...

`pip install -e '.[test]'` would rebuild bare's compiled modules each time a level of
the Makefile adds an extra; this reads the extras' requirements from the metadata of the
bare already installed in this interpreter's environment and hands them to pip, which
evaluates their environment markers itself.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

# How setuptools writes a requirement of an extra: `name>=1; extra == "test"`, or with the
# requirement's own marker first, `name>=1; (sys_platform != "win32" and ...) and extra == "x"`.
_MARKER = re.compile(r'(?:(?P<own>.+) and )?extra == "(?P<extra>[A-Za-z0-9._-]+)"')


def requirements(extras: list[str]) -> list[str]:
    """The requirements of `extras`, each with its own marker, without the extra's."""
    try:
        metadata = importlib.metadata.metadata("bare")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"install_extras: bare is not installed for {sys.executable}: run make install")
    known = set(metadata.get_all("Provides-Extra") or [])
    unknown = sorted(set(extras) - known)
    if unknown:
        sys.exit(f"install_extras: bare has no extra {unknown}; it has {sorted(known)}")
    wanted = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        if "extra" not in marker:
            continue  # a dependency of bare itself, installed with it
        match = _MARKER.fullmatch(marker.strip())
        if match is None:
            sys.exit(f"install_extras: cannot read the marker of {line!r}")
        if match["extra"] in extras:
            own = match["own"]
            wanted.append(requirement.strip() + (f"; {own}" if own else ""))
    return sorted(set(wanted))


def main() -> int:
    extras = sys.argv[1:]
    if not extras:
        sys.exit(__doc__)
    wanted = requirements(extras)
    print(f"install_extras: {', '.join(extras)}: {', '.join(wanted) or 'nothing to install'}")
    if not wanted:
        return 0
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *wanted]).returncode


if __name__ == "__main__":
    sys.exit(main())
