"""The documentation site (mkdocs.yml) leaves nothing out, without needing mkdocs.

`make docs` builds the site in strict mode, which catches broken links and anchors; these
tests catch what a build alone would not make obvious to whoever adds a page or a module:
a page missing from the nav, a public module without a reference page, a name that a page's
`members` list drops from its module's `__all__`.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "bare"
REFERENCE = DOCS / "reference"

# Pages that are deliberately not in the nav, each with the reason. None today.
NOT_IN_NAV: dict[str, str] = {}

# A mkdocstrings directive and the indented YAML options under it.
DIRECTIVE = re.compile(r"^::: (?P<module>[\w.]+)\n(?P<options>(?:    .*\n|\n)*)", re.MULTILINE)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads mkdocs' `!!python/name:` and `!ENV` style tags as None."""


_Loader.add_multi_constructor("", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def config() -> dict[str, Any]:
    loaded = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    assert isinstance(loaded, dict)
    return loaded


def nav_pages(entries: Any) -> Iterator[str]:
    """Every page of a nav, however it is nested (`page.md`, `{title: page.md}`, sections)."""
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from nav_pages(value)


def doc_pages() -> set[str]:
    return {page.relative_to(DOCS).as_posix() for page in DOCS.glob("**/*.md")}


def public_modules() -> set[str]:
    """bare's modules and packages whose names do not start with an underscore."""
    found = set()
    for path in PACKAGE.glob("**/*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(part.startswith("_") for part in parts[1:]):
            continue
        found.add(".".join(parts))
    return found


def directives() -> dict[str, tuple[str, dict[str, Any]]]:
    """Module -> (reference page, options) for every `::: module` under docs/reference."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for page in sorted(REFERENCE.glob("**/*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            block = yaml.safe_load(textwrap.dedent(match["options"])) or {}
            module = match["module"]
            assert module not in found, f"{module} has two reference pages"
            found[module] = (page.relative_to(DOCS).as_posix(), block.get("options", {}))
    return found


def test_every_page_is_in_the_nav() -> None:
    listed = list(nav_pages(config()["nav"]))
    missing = doc_pages() - set(listed) - set(NOT_IN_NAV)
    assert not missing, f"add these pages to the nav of mkdocs.yml (or to NOT_IN_NAV): {missing}"
    assert len(listed) == len(set(listed)), "a page is in the nav twice"


def test_the_nav_names_only_pages_that_exist() -> None:
    absent = set(nav_pages(config()["nav"])) - doc_pages()
    assert not absent, f"the nav of mkdocs.yml names pages that docs/ does not have: {absent}"


def test_the_build_is_strict() -> None:
    loaded = config()
    assert loaded["strict"] is True
    # Each check strict mode turns into a failure must stay on (a warning, not "info").
    validation = loaded["validation"]
    assert set(validation["links"].values()) == {"warn"}
    assert set(validation["links"]) >= {"not_found", "anchors", "unrecognized_links"}
    assert validation["nav"]["omitted_files"] == "warn"
    assert validation["nav"]["not_found"] == "warn"
    # No web fonts fetched from a CDN.
    assert loaded["theme"]["font"] is False


def test_every_public_module_has_a_reference_page() -> None:
    documented = set(directives())
    assert documented <= public_modules(), documented - public_modules()
    missing = public_modules() - documented - {"bare"}
    assert not missing, f"add a page with `::: module` under docs/reference for {missing}"


def test_member_lists_leave_out_only_names_documented_elsewhere() -> None:
    pages = directives()
    checked = 0
    for module_name, (page, options) in pages.items():
        members = options.get("members")
        if not isinstance(members, list):
            continue
        checked += 1
        module = importlib.import_module(module_name)
        exported = set(module.__all__)
        assert set(members) <= exported, f"{page}: not in {module_name}.__all__"
        for name in exported - set(members):
            home = getattr(module, name).__module__
            assert home != module_name and home in pages, (
                f"{page} leaves out {module_name}.{name}, which no other reference page shows"
            )
            assert name in importlib.import_module(home).__all__
    assert checked >= 1


def test_the_reference_lists_every_name_bare_exports() -> None:
    import bare

    text = (REFERENCE / "index.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in bare.__all__
        if not re.search(rf"`(bare\.)?{re.escape(name)}(\(\))?`", text)
    ]
    assert not missing, f"docs/reference/index.md does not mention {missing}"
