"""The docs' examples run: every Python block marked `<!-- run -->` is executed.

A marked block is a whole program: it imports what it uses, builds its app and checks
what the page claims with `assert`s (usually through `bare.testing.TestClient`). Each
runs as a fresh module of its own, in a temporary working directory.
"""

from __future__ import annotations

import logging
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARK = "<!-- run -->"
BLOCK = re.compile(r"^<!-- run -->\n```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def marked_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.glob("**/*.md")):
        text = page.read_text(encoding="utf-8")
        found = BLOCK.findall(text)
        # A mark that does not sit right above a python fence would be silently skipped.
        assert len(found) == text.count(MARK), f"{page.name}: a {MARK} mark not above ```python"
        for number, code in enumerate(found, 1):
            blocks.append((f"{page.relative_to(DOCS)}#{number}", code))
    return blocks


BLOCKS = marked_blocks()


def test_some_blocks_are_marked() -> None:
    assert len(BLOCKS) >= 1


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Examples may add handlers and set levels: undo that for the tests that follow."""
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    saved = {logger: (logger.handlers[:], logger.level, logger.propagate) for logger in loggers}
    yield
    for logger in [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]:
        handlers, level, propagate = saved.get(logger, ([], logging.NOTSET, True))
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_docs_example_runs(
    where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # A module of its own, as a reader's file would be: libraries that resolve string
    # annotations through sys.modules (msgspec, pydantic) find it, and this file's
    # `from __future__ import annotations` does not leak into it.
    module = types.ModuleType(f"docs_example_{where}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, where, "exec", dont_inherit=True), module.__dict__)
