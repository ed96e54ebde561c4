"""`bare._lazy.Lazy`: a name imported by its first `load()`, then kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bare._lazy import Lazy


def test_load_gives_the_modules_object_and_keeps_it() -> None:
    import json

    lazy: Lazy[object] = Lazy("json", "dumps")
    assert lazy.value is None
    assert lazy.load() is json.dumps
    assert lazy.value is json.dumps


def test_nothing_is_imported_before_the_first_load() -> None:
    code = (
        "import sys\n"
        "from bare._lazy import Lazy\n"
        "lazy = Lazy('wave', 'open')\n"
        "before = 'wave' in sys.modules\n"
        "lazy.load()\n"
        "print(before, 'wave' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_missing_name_fails_when_loaded() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        Lazy("json", "no_such_name").load()
