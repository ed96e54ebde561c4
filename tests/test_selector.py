"""Which implementation is live: BARE_NO_EXTENSIONS, bare.COMPILED and `bare --version`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import bare
from bare._compat import env_flag

FEATURES = ("router", "headers")


def probe(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "BARE_NO_EXTENSIONS"}
    if value is not None:
        env["BARE_NO_EXTENSIONS"] = value
    code = (
        "import bare, bare.routing as r; "
        "print(bare.COMPILED, bare.implementations(), type(r.Router().http_matcher()).__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_no_extensions_forces_the_pure_path(value: str) -> None:
    expected = {feature: "py" for feature in FEATURES}
    assert probe(value) == f"False {expected} bare._router_py"


@pytest.mark.c_extension
@pytest.mark.parametrize("value", [None, "", "0", "false", "off"])
def test_compiled_path_is_chosen_by_default(value: str | None) -> None:
    expected = {feature: "c" for feature in FEATURES}
    assert probe(value) == f"True {expected} bare._router"


def test_flag_parsing_refuses_unknown_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BARE_TEST_FLAG", "maybe")
    with pytest.raises(RuntimeError, match="BARE_TEST_FLAG='maybe'"):
        env_flag("BARE_TEST_FLAG")
    monkeypatch.setenv("BARE_TEST_FLAG", "0")
    assert env_flag("BARE_TEST_FLAG") is False
    monkeypatch.delenv("BARE_TEST_FLAG")
    assert env_flag("BARE_TEST_FLAG") is False


def test_this_run_uses_the_path_it_asked_for() -> None:
    # `make test` runs the suite twice: compiled by default, then BARE_NO_EXTENSIONS=1.
    pure = env_flag("BARE_NO_EXTENSIONS")
    assert bare.COMPILED is not pure
    assert set(bare.implementations().values()) == {"py" if pure else "c"}


def test_version_names_the_live_path() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bare", "--version"], capture_output=True, text=True, timeout=60
    )
    mode, kind = ("compiled", "c") if bare.COMPILED else ("pure Python", "py")
    parts = ", ".join(f"{feature}={kind}" for feature in FEATURES)
    assert done.stdout.strip() == f"bare {bare.__version__} ({mode}: {parts})"
