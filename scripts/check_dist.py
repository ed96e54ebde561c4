"""Check the distributions that `make dist` built, then install each one and smoke-test it.

Usage: python scripts/check_dist.py [DIST_DIR]   (default: dist)

What each one carries:
- the sdist: what building needs (pyproject.toml, setup.py, MANIFEST.in, the package with
  the Cython sources and their pure twins, py.typed), the README and every license file of
  the checkout; no generated C, no built module, no test suite (see MANIFEST.in);
- the compiled wheel (a platform tag): both compiled modules, stripped: neither debug
  sections nor a symbol table (read with `readelf -S`, from binutils, which comes with the
  C compiler);
- the pure wheel (py3-none-any): no compiled module, both pure twins;
- neither wheel: the Cython or C sources.

Then each of three fresh venvs, made in a temporary directory without pip (this
interpreter's pip installs into them with --python), gets one distribution:
- the compiled wheel, then the pure one, each with --no-index: no network;
- the sdist, built with BARE_NO_EXTENSIONS=1, so pure. pip builds it as it would for any
  user, in an isolated environment with the build requirements (setuptools, Cython) from
  the package index.
scripts/dist_smoke.py then runs in each venv from the temporary directory, so that the
checkout cannot be imported, and the venv's `bare --version` must name the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scripts" / "dist_smoke.py"
COMPILED = ("_router", "_headers")
SOURCES = (".pyx", ".c", ".html")
LIBRARIES = (".so", ".pyd")
BUILT = (".c", ".html", ".so", ".pyd", ".pyc", ".pyo")
LICENSES = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")
# The install test: the venv's environment leaves out what would change which bare is imported
# or how the sdist is built.
DROPPED = ("BARE_NO_EXTENSIONS", "BARE_REQUIRE_EXTENSIONS", "BARE_DEBUG_BUILD", "PYTHONPATH")
INSTALL_TIMEOUT = 600  # seconds: the sdist's build fetches setuptools and Cython
SMOKE_TIMEOUT = 120


class Failed(Exception):
    """A step of the install test failed; the message says which and why."""


def license_files() -> list[str]:
    """The license files at the root of the checkout, which every distribution must carry."""
    return sorted({path.name for pattern in LICENSES for path in ROOT.glob(pattern)})


def sections(library: bytes) -> set[str]:
    """The section names of an ELF shared library."""
    readelf = shutil.which("readelf")
    if readelf is None:
        sys.exit("check_dist: readelf not found: install binutils")
    with tempfile.NamedTemporaryFile(suffix=".so") as file:
        file.write(library)
        file.flush()
        listing = subprocess.run(
            [readelf, "-S", "-W", file.name], capture_output=True, text=True, check=True
        ).stdout
    return {word for line in listing.splitlines() for word in line.replace("]", "] ").split()}


def check_wheel(wheel: Path) -> list[str]:
    """What is wrong with `wheel`, one line each."""
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        problems += [f"{name}: a source file" for name in names if name.endswith(SOURCES)]
        carried = {Path(name).name for name in names if ".dist-info/licenses/" in name}
        problems += [
            f"the license file {name} is missing" for name in license_files() if name not in carried
        ]
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
            found = sections(data)
            debug = sorted(s for s in found if s.startswith((".debug", ".zdebug")))
            if debug:
                problems.append(f"{name} ({len(data) // 1024} KiB) has debug sections {debug}")
            if ".symtab" in found:
                problems.append(f"{name} ({len(data) // 1024} KiB) is not stripped (.symtab)")
    return problems


def check_sdist(sdist: Path, version: str) -> list[str]:
    """What is wrong with `sdist`, one line each."""
    top = f"bare-{version}/"
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    outside = [name for name in members if not (name + "/").startswith(top)]
    names = {name[len(top) :] for name in members if name.startswith(top)}
    needed = [
        "PKG-INFO",
        "pyproject.toml",
        "setup.py",
        "MANIFEST.in",
        "README.md",
        *license_files(),
        "src/bare/__init__.py",
        "src/bare/py.typed",
        *(f"src/bare/{module}.pyx" for module in COMPILED),
        *(f"src/bare/{module}_py.py" for module in COMPILED),
    ]
    problems = [f"{name}: outside the top directory {top}" for name in outside]
    problems += [f"{name} is missing" for name in needed if name not in names]
    for name in sorted(names):
        if name.endswith(BUILT) or "__pycache__" in name.split("/"):
            problems.append(f"{name}: generated or built, not a source")
        elif name.startswith("tests/"):
            problems.append(f"{name}: the test suite is left out (MANIFEST.in)")
    return problems


def run(
    command: list[str],
    what: str,
    timeout: int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run `command`; its stdout, or Failed naming `what` with the end of its output."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
        )
    except subprocess.TimeoutExpired:
        raise Failed(f"{what}: no answer after {timeout} s") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise Failed(f"{what}: exit status {done.returncode}\n    " + "\n    ".join(output))
    return done.stdout


def smoke(distribution: Path, build: str, version: str, scratch: Path) -> str:
    """Install `distribution` into a fresh venv under `scratch`, then smoke-test it there."""
    kind = "sdist" if distribution.name.endswith(".tar.gz") else "wheel"
    venv = scratch / f"venv-{kind}-{build}"
    python = venv / "bin" / "python"
    env = {name: value for name, value in os.environ.items() if name not in DROPPED}
    env["PYTHONNOUSERSITE"] = "1"  # a bare in the user's site-packages must not answer
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], f"python -m venv {venv}", 60)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = [*pip, "install", "--quiet", "--no-deps", "--no-cache-dir"]
    if kind == "wheel":
        install += ["--no-index"]
        install_env = env
    else:
        install_env = {**env, "BARE_NO_EXTENSIONS": "1" if build == "pure" else "0"}
    run(
        [*install, str(distribution)],
        f"installing {distribution.name}",
        INSTALL_TIMEOUT,
        env=install_env,
    )
    script = scratch / SMOKE.name
    shutil.copyfile(SMOKE, script)
    line = run(
        [str(python), str(script), build, version],
        f"{SMOKE.name} {build} with {distribution.name}",
        SMOKE_TIMEOUT,
        cwd=scratch,
        env=env,
    )
    mode = "compiled" if build == "compiled" else "pure Python"
    printed = run(
        [str(venv / "bin" / "bare"), "--version"], "bare --version", 60, cwd=scratch, env=env
    ).strip()
    if not printed.startswith(f"bare {version} ({mode}:"):
        raise Failed(f"bare --version printed {printed!r}: bare {version} ({mode}: ...) expected")
    return line.strip()


def main() -> int:
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist").resolve()
    sdists = sorted(dist.glob("bare-*.tar.gz"))
    wheels = sorted(dist.glob("bare-*.whl"))
    pure = [wheel for wheel in wheels if wheel.name.endswith("-py3-none-any.whl")]
    compiled = [wheel for wheel in wheels if wheel not in pure]
    if len(sdists) != 1 or len(pure) != 1 or len(compiled) != 1:
        print(
            f"check_dist: {dist} needs one sdist, one compiled wheel and one pure wheel (make"
            f" dist); it has {[path.name for path in [*sdists, *wheels]]}",
            file=sys.stderr,
        )
        return 1
    sdist = sdists[0]
    version = sdist.name[len("bare-") : -len(".tar.gz")]
    failed = False
    for path in [sdist, *wheels]:
        problems = check_sdist(path, version) if path == sdist else check_wheel(path)
        if path != sdist and not path.name.startswith(f"bare-{version}-"):
            problems.append(f"not version {version}, the sdist's")
        failed = failed or bool(problems)
        size = path.stat().st_size // 1024
        print(f"check_dist: {path.name} ({size} KiB): {'FAILED' if problems else 'ok'}")
        for problem in problems:
            print(f"  {problem}")
    if not license_files():
        print("check_dist: note: the checkout has no license file, so no distribution carries one")
    if failed:
        return 1
    with tempfile.TemporaryDirectory(prefix="bare-dist-") as scratch:
        tests = ((compiled[0], "compiled"), (pure[0], "pure"), (sdist, "pure"))
        for distribution, build in tests:
            try:
                line = smoke(distribution, build, version, Path(scratch))
            except Failed as error:
                print(f"check_dist: install test of {distribution.name} FAILED: {error}")
                return 1
            print(f"check_dist: {distribution.name} installed in a fresh venv: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
