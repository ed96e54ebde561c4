"""The chat example in a real browser: two headless Chromium pages (two browser
processes, as two people would be) in one room of `examples.chat` served by uvicorn.
One types a message, the other shows it; both pages are saved as screenshots.

The browser is driven as tests/test_openapi_browser.py drives it (its `Browser`, with
the network blocked but for 127.0.0.1); no waits on the clock: a MutationObserver in the
page resolves a promise once the expected lines are drawn. The page runs under its own
Content-Security-Policy (script only from /static), and no console error, exception or
CSP violation may be reported.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import uvicorn
from test_openapi_browser import Browser, closed_port, drawn  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("BARE_BROADCAST_URL", raising=False)  # memory://, one process
    yield from uvicorn("examples.chat:app")


@pytest.fixture
def pages(tmp_path: Path, closed_port: int) -> Iterator[tuple[Browser, Browser]]:  # noqa: F811
    made: list[Browser] = []
    try:
        for name in ("one", "two"):
            profile = tmp_path / f"profile-{name}"
            profile.mkdir()
            made.append(Browser(profile, closed_port))
        yield made[0], made[1]
    finally:
        for browser in made:
            browser.close()
        for name in ("one", "two"):
            shutil.rmtree(tmp_path / f"profile-{name}", ignore_errors=True)


def type_into(page: Browser, selector: str, text: str) -> None:
    """Focus the input and type `text` into it, as a keyboard would."""
    page.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
    page.call("Input.insertText", session=True, text=text)


def enter(page: Browser, server: str, nick: str, room: str, notices: int) -> None:
    page.open(f"http://{server}/")
    type_into(page, "#nick", nick)
    page.evaluate("document.querySelector('#room').value = ''")
    type_into(page, "#room", room)
    page.evaluate("document.querySelector('#join').requestSubmit()")
    lines = page.evaluate(drawn("#messages li.notice", notices, "element.textContent"))
    assert lines[-1].endswith(f"{nick} joined")


def test_a_message_typed_in_one_page_shows_in_the_other(
    server: str, pages: tuple[Browser, Browser], tmp_path: Path
) -> None:
    ann, bob = pages
    enter(ann, server, "ann", "garden", 1)
    enter(bob, server, "bob", "garden", 1)
    assert ann.evaluate(drawn("#messages li.notice", 2, "element.textContent"))[-1].endswith(
        "bob joined"
    )
    status = bob.evaluate("document.querySelector('#status').textContent")
    assert status == "In #garden as bob."

    text = "hello <b>bob</b> & all"  # markup from a client stays text
    type_into(ann, "#text", text)
    ann.evaluate("document.querySelector('#say').requestSubmit()")
    seen = bob.evaluate(
        drawn(
            "#messages li.message",
            1,
            "[element.querySelector('.nick').textContent,"
            " element.querySelector('.text').textContent]",
        )
    )
    assert seen == [["ann", text]]
    assert ann.evaluate(drawn("#messages li.message", 1, "element.textContent"))[0].endswith(
        "ann" + text
    )
    assert bob.evaluate("document.querySelectorAll('#messages b').length") == 0
    assert ann.evaluate("document.querySelector('#text').value") == ""  # sent, cleared

    for name, page in (("ann", ann), ("bob", bob)):
        shot = tmp_path / f"chat-{name}.png"
        page.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert page.problems() == []  # no console error, exception or CSP violation
        assert all(url.startswith(f"http://{server}/") for url in page.requested_urls())
