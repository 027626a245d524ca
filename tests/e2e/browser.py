"""Headless Debian Chromium driven over the Chrome DevTools Protocol, for the e2e tests.

We speak CDP directly (one browser-level WebSocket, flat sessions) instead of selenium:
selenium 4.52 needs a newer certifi than our registry mirror has, and CDP also gives us
what WebDriver lacks here — download events with the saved file's path.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from collections import deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

# The flags the issue asks for: no GPU, no network chatter of its own (QUIC, sync,
# component updates, background fetches), a throw-away profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser")


class BrowserError(RuntimeError):
    """Chromium did not start, or a DevTools command failed or timed out."""


def find_chromium() -> str | None:
    """Path of Debian's chromium binary, or None when it is not installed."""
    return next((p for name in CHROMIUM_NAMES if (p := shutil.which(name))), None)


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, binary: str, *, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="civlake-chromium-")
        self.downloads = Path(self._profile) / "downloads"
        self.downloads.mkdir()
        # A file, not a pipe: chromium logs freely and an unread pipe could stall it.
        self._log = Path(self._profile) / "chromium.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self._stack = ExitStack()
        self._events: deque[dict] = deque()
        self._next_id = 0
        try:
            self._ws = self._connect()
            self._session = self._attach_page()
        except BaseException:
            self.close()
            raise

    # --- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _connect(self) -> ClientConnection:
        # Chromium writes "<port>\n<browser ws path>" once DevTools listens; port 0 means
        # no clash with other engineers' browsers on this shared machine.
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not marker.exists() or len(marker.read_text().splitlines()) < 2:
            if self._proc.poll() is not None:
                err = self._log.read_text(errors="replace")[-2000:]
                raise BrowserError(f"chromium exited with {self._proc.returncode}: {err}")
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium did not open DevTools within {self.timeout:.0f}s")
            time.sleep(0.05)
        port, path = marker.read_text().splitlines()[:2]
        ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout)
        return self._stack.enter_context(ws)

    def _attach_page(self) -> str:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        target_id = (
            page["targetId"]
            if page
            else self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        )
        session = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        self.call(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(self.downloads), "eventsEnabled": True},
        )
        sid = session["sessionId"]
        self.call("Page.enable", session=sid)
        self.call("Runtime.enable", session=sid)
        return sid

    # --- protocol -------------------------------------------------------------------
    def call(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        """Send one CDP command and return its result; events seen meanwhile are queued."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        reply = self._receive(lambda m: m.get("id") == msg["id"], what=method)
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, *, where=lambda params: True) -> dict:
        """Params of the first (queued or new) event ``method`` whose params match ``where``."""
        for event in list(self._events):
            if event["method"] == method and where(event.get("params", {})):
                self._events.remove(event)
                return event["params"]
        reply = self._receive(
            lambda m: m.get("method") == method and where(m.get("params", {})), what=method
        )
        return reply["params"]

    def _receive(self, match, *, what: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {what} within {self.timeout:.0f}s")
            try:
                message = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                continue
            if match(message):
                return message
            if "method" in message:
                self._events.append(message)

    # --- page actions ---------------------------------------------------------------
    def goto(self, url: str) -> None:
        self._events.clear()
        result = self.call("Page.navigate", {"url": url}, session=self._session)
        if result.get("errorText"):
            raise BrowserError(f"could not open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-serialisable results only)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self._session,
        )
        if "exceptionDetails" in result:
            text = result["exceptionDetails"].get("exception", {}).get("description")
            raise BrowserError(f"script failed: {text or result['exceptionDetails']['text']}")
        return result["result"].get("value")

    def click_and_wait(self, selector: str) -> None:
        """Click the element like a user would and wait for the next page load."""
        self._events.clear()
        self._click(selector)
        self.wait_event("Page.loadEventFired")

    def click_download(self, selector: str) -> Path:
        """Click a download link and return the file Chromium saved."""
        self._events.clear()
        self._click(selector)
        begin = self.wait_event("Browser.downloadWillBegin")
        done = self.wait_event(
            "Browser.downloadProgress",
            where=lambda p: p["guid"] == begin["guid"] and p["state"] in {"completed", "canceled"},
        )
        if done["state"] != "completed":
            raise BrowserError(f"download of {begin['url']} was cancelled")
        # With eventsEnabled, files are saved under their GUID; filePath says where.
        return Path(done.get("filePath") or self.downloads / begin["guid"])

    def _click(self, selector: str) -> None:
        found = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " if (!el) return false; el.scrollIntoView(); el.click(); return true; })()"
        )
        if not found:
            raise BrowserError(f"no element matches {selector!r} on {self.url}")

    def record(self, *domains: str) -> None:
        """Start reporting the page's events of ``domains`` (e.g. Network, Log)."""
        for domain in domains:
            self.call(f"{domain}.enable", session=self._session)

    def events(self, method: str) -> list[dict]:
        """Params of every event ``method`` received since the last navigation."""
        self.evaluate("0")  # a round trip: events sent before its answer are queued
        return [e.get("params", {}) for e in self._events if e["method"] == method]

    @property
    def url(self) -> str:
        return self.evaluate("location.href")

    def screenshot(self, path: Path) -> Path:
        data = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
            session=self._session,
        )["data"]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
