"""Headless Chromium from Debian's packages, driven over the DevTools protocol, for tests that
look at a page the way a person does.

`ensure_chromium()` installs the `chromium` package when it is missing (apt-get, as root), so a
clean machine runs the browser tests too. `Browser` starts Chromium with its own empty profile,
no background networking and a DevTools port chosen by Chromium itself, opens pages, evaluates
JavaScript in them, records every request the page makes, and takes screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

import websocket

from dynamobackup_devenv.processes import Lifecycle, ManagedProcess, wait_until

CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 60.0
# Flags for a closed network and a root user: no sandbox (root), nothing phoning home.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here."""


def ensure_chromium() -> str:
    """The path of Debian's Chromium, installing the package first if it is missing."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BrowserUnavailable(
            "Chromium is missing: install Debian's package (apt-get install -y chromium)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrowserUnavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return CHROMIUM


class Browser(Lifecycle):
    """One headless Chromium and one page, over the DevTools protocol."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="dbr-chromium-"))
        self.process: ManagedProcess | None = None
        self._socket: websocket.WebSocket | None = None
        self._ids = itertools.count(1)
        self.requests: list[str] = []

    def start(self) -> Self:
        binary = ensure_chromium()
        args = [
            binary,
            *FLAGS,
            f"--user-data-dir={self.profile}",
            f"--window-size={self.width},{self.height}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self.process = ManagedProcess(
            "chromium", args, self.profile / "chromium.log", dict(os.environ)
        ).start()
        port = self._devtools_port(self.process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(t for t in json.loads(answer.read()) if t["type"] == "page")
        self._socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.call("Page.enable")
        self.call("Network.enable")
        return self

    def _devtools_port(self, chromium: ManagedProcess) -> int:
        # Chromium writes the port it picked to this file once it listens.
        marker = self.profile / "DevToolsActivePort"

        def written() -> bool:
            return marker.exists() and bool(marker.read_text().strip())

        wait_until(written, START_TIMEOUT, "Chromium's DevTools port file", [chromium])
        return int(marker.read_text().splitlines()[0])

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Sends one command and returns its result; events that arrive meanwhile are noted."""
        assert self._socket is not None
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def open(self, url: str, timeout: float = 30.0) -> None:
        """Navigates and waits until the document has loaded completely."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading in {timeout:.0f}s")
            time.sleep(0.1)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (not just the viewport)."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=max(height, self.height),
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.process is not None:
            self.process.stop()
            self.process = None
        shutil.rmtree(self.profile, ignore_errors=True)
