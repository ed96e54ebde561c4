"""The documentation page in a real browser: Debian's headless Chromium loads `/docs`
from uvicorn with the network blocked, and the page lists the app's operations.

Chromium is driven through its DevTools protocol (over `websockets`): the page is
loaded, a promise in the page resolves once Swagger UI has drawn the operations (no
sleeps: a MutationObserver says when), and a screenshot is saved in the test's
temporary directory. Every request the page made is checked to have gone to the app,
and no Content-Security-Policy violation may be reported.

The network is blocked twice: every host name resolves to nothing except 127.0.0.1,
and every connection goes through a proxy at a local port that refuses connections,
except to 127.0.0.1 itself. `test_the_browser_reaches_only_127_0_0_1` checks that
the blocking holds, against a listener of our own on 127.0.0.2 (on the loopback, so
nothing leaves the machine even if it did not hold).

Missing Chromium fails these tests (it is installed by `make test`); deselect them
with `-m "not browser"`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from servers import uvicorn

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("BARE_CHROMIUM", "/usr/bin/chromium")
# A net for a browser or a page that never answers; each wait ends on its own event.
WAIT_LIMIT = 40


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.openapi_live:app")


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A local port that refuses connections for as long as the tests run: bound, so
    nothing else takes it, and never listening. The browser's proxy points there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class Browser:
    """A headless Chromium process and one page of it, driven over DevTools."""

    def __init__(self, profile: Path, proxy_port: int) -> None:
        if not os.path.exists(CHROMIUM):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
        command = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1600",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            # Nothing resolves but 127.0.0.1, and every connection but those to
            # 127.0.0.1 goes to a proxy that refuses it. `<-loopback>` removes the
            # implicit bypass of every loopback address: 127.0.0.2 is blocked too.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>;127.0.0.1",
            "about:blank",
        ]
        # A session of its own, so that the browser's helper processes are stopped
        # with it, by its id.
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._address: str | None = None
        self._found = threading.Event()
        self._log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._socket: ClientConnection | None = None
        self._exits = ExitStack()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        try:
            if not self._found.wait(WAIT_LIMIT) or self._address is None:
                raise RuntimeError("Chromium did not start:\n" + "".join(self._log))
            self._socket = self._exits.enter_context(
                connect(self._address, max_size=None, open_timeout=WAIT_LIMIT)
            )
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace")
            self._log.append(line)
            if line.startswith("DevTools listening on ") and self._address is None:
                self._address = line.removeprefix("DevTools listening on ").strip()
                self._found.set()
        self._found.set()  # the browser exited: wake the waiter up

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result; events that arrive
        meanwhile are kept in `events`."""
        assert self._socket is not None
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._socket.send(json.dumps(message))
        while True:
            reply = json.loads(self._socket.recv(timeout=WAIT_LIMIT))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        """The value of `expression` in the page; a promise is awaited."""
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            timeout=WAIT_LIMIT * 1000,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"the page raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        start = len(self.events)
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired", start)

    def wait_for(self, method: str, start: int = 0) -> dict[str, Any]:
        """The first event `method` since `events[start]`, waited for if need be."""
        assert self._socket is not None
        while True:
            for event in self.events[start:]:
                if event.get("method") == method:
                    return event
            start = len(self.events)
            self.events.append(json.loads(self._socket.recv(timeout=WAIT_LIMIT)))

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def problems(self) -> list[str]:
        """Errors the page reported: console errors, exceptions, CSP violations."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
            elif method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(json.dumps(params["args"])[:500])
        return found

    def close(self) -> None:
        try:
            self._exits.close()
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
            self._reader.join(timeout=10)
            if self.process.stderr is not None:
                self.process.stderr.close()


@pytest.fixture
def browser(tmp_path: Path, closed_port: int) -> Iterator[Browser]:
    profile = tmp_path / "profile"
    profile.mkdir()
    chromium = Browser(profile, closed_port)
    try:
        yield chromium
    finally:
        chromium.close()
        shutil.rmtree(profile, ignore_errors=True)


WAITING = """
new Promise((resolve) => {
  const check = () => {
    const found = document.querySelectorAll(SELECTOR);
    if (found.length < COUNT) return false;
    resolve(Array.from(found, (element) => VALUE));
    return true;
  };
  if (!check()) {
    const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
    observer.observe(document.documentElement, { childList: true, subtree: true });
  }
})
"""


def drawn(selector: str, count: int, value: str) -> str:
    """JavaScript for a promise that resolves, once the page has at least `count`
    elements matching `selector` (a MutationObserver tells when), with `value` (an
    expression of `element`) for each of them."""
    return (
        WAITING.replace("SELECTOR", json.dumps(selector))
        .replace("COUNT", str(count))
        .replace("VALUE", value)
    )


# Each operation's method and path (a deprecated one's path has a class of its own:
# it is found by its attribute).
OPERATION = (
    "[element.closest('.opblock').querySelector('.opblock-summary-method').textContent,"
    " element.getAttribute('data-path')]"
)


def test_the_docs_page_lists_the_operations(server: str, browser: Browser, tmp_path: Path) -> None:
    import httpx

    document = httpx.get(f"http://{server}/openapi.json").json()
    expected = sorted(
        [method.upper(), path] for path, item in document["paths"].items() for method in item
    )
    assert len(expected) == 6  # the health route is left out of the document

    browser.open(f"http://{server}/docs")
    operations = browser.evaluate(drawn(".opblock-summary [data-path]", len(expected), OPERATION))
    assert sorted(operations) == expected
    title = browser.evaluate("document.querySelector('.info .title').textContent")
    assert title.startswith("Tasks API")
    deprecated = browser.evaluate("document.querySelectorAll('.opblock-deprecated').length")
    assert deprecated == 1
    tags = browser.evaluate(
        "Array.from(document.querySelectorAll('.opblock-tag'), t => t.dataset.tag)"
    )
    assert tags == ["tasks", "files", "default"]
    # The schemas of the document's components, drawn by name.
    schemas = sorted(document["components"]["schemas"])
    title = "section.models article[data-json-schema-level='0'] .json-schema-2020-12__title"
    names = browser.evaluate(drawn(title, len(schemas), "element.textContent"))
    assert sorted(names) == schemas

    # The upload's file field is a file picker once "Try it out" is on.
    attach = "#operations-files-attach"
    browser.evaluate(f"document.querySelector('{attach} .opblock-summary-control').click()")
    (button,) = browser.evaluate(drawn(f"{attach} .try-out__btn", 1, "element.textContent"))
    assert button.strip() == "Try it out"
    browser.evaluate(f"document.querySelector('{attach} .try-out__btn').click()")
    pickers = browser.evaluate(drawn(f"{attach} input[type=file]", 1, "element.type"))
    assert pickers == ["file"]

    shot = tmp_path / "docs.png"
    browser.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert shot.stat().st_size > 10_000  # a drawn page, not a blank one

    # Everything came from the app, and the page's policy refused nothing.
    urls = browser.requested_urls()
    assert f"http://{server}/openapi.json" in urls
    assert all(url.startswith((f"http://{server}/", "data:", "about:")) for url in urls), urls
    assert browser.problems() == []
    # ...and would have told: an inline script, which the policy refuses, is reported.
    start = len(browser.events)
    browser.evaluate(
        "document.body.appendChild(document.createElement('script')).textContent = '1'"
    )
    refused = browser.wait_for("Log.entryAdded", start)["params"]["entry"]
    assert "Content Security Policy" in refused["text"], refused
    assert browser.problems() != []


def test_the_browser_reaches_only_127_0_0_1(server: str, browser: Browser) -> None:
    # A listener of our own at another loopback address: had the blocking failed, the
    # browser's connection would wait in its queue (the kernel accepts it for us) and
    # the fetch, never answered, would be given up after 10 s.
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        other = f"127.0.0.2:{listener.getsockname()[1]}"
        port = server.rpartition(":")[2]
        fetch = (
            "fetch(%r, {mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(10000)})"
            ".then(() => 'reached', (error) => 'blocked: ' + error)"
        )
        assert browser.evaluate(fetch % f"http://{server}/openapi.json") == "reached"
        assert browser.evaluate(fetch % f"http://{other}/").startswith("blocked")
        assert browser.evaluate(fetch % f"http://localhost:{port}/").startswith("blocked")
        assert browser.evaluate(fetch % "http://bare-test.example/").startswith("blocked")
        # Every fetch has settled: a connection that was made is in the queue by now.
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
