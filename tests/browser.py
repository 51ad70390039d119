"""Headless Chromium for tests (Debian's `chromium`, installed by .ci/setup), driven over the DevTools protocol.

`dump_dom` and `screenshot` open a page, wait in real time until it says it is done (the verifier page sets
``document.body.dataset.done`` once its verdict is shown: hiding and zk checks take real CPU time and snarkjs
compiles WebAssembly, which a virtual-time budget does not wait for), then read the DOM or capture the screen.
The protocol runs over `--remote-debugging-pipe` (file descriptors 3 and 4): no port, no network.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise AssertionError("chromium is not installed: run `bash .ci/setup` (it installs Debian's chromium)")
    return exe


class Browser:
    """One headless Chromium with one page, over the DevTools pipe."""

    def __init__(self, size: str = "1100,900") -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="por-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds() -> None:  # the child reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_chrome_r, 200)  # via distinct high numbers: dup2(3, 3) would keep close-on-exec
            os.dup2(from_chrome_w, 201)
            os.dup2(200, 3)
            os.dup2(201, 4)

        self.proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={self._profile.name}",
                                      f"--window-size={size}", "--remote-debugging-pipe", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=fds,
                                     close_fds=False)  # fds 3 and 4 are made in preexec_fn: keep them
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        w, h = (int(x) for x in size.split(","))
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=w, height=h, deviceScaleFactor=1,
                  mobile=False)

    def call(self, method: str, session: bool = False, timeout: float = 120, **params: Any) -> dict:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise AssertionError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            if time.monotonic() > deadline:
                raise AssertionError(f"chromium did not answer {method} within {timeout} s")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise AssertionError("chromium exited")
            self._buf += chunk

    def evaluate(self, expr: str) -> Any:
        res = self.call("Runtime.evaluate", session=True, expression=expr, returnByValue=True)
        return res.get("result", {}).get("value")

    def open(self, url: str, timeout: float = 120) -> None:
        """Navigate and wait until the page reports done (or, for pages that never do, has loaded)."""
        self.call("Page.navigate", session=True, url=url)
        search = "?" + url.split("?", 1)[1].split("#", 1)[0] if "?" in url else ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            state = self.evaluate("JSON.stringify([location.search, document.body ? document.body.dataset.done || '' : '',"
                                  " document.readyState, !!document.getElementById('por-data')])")
            if not state:
                continue
            at, done, ready, verifier = json.loads(state)
            # the verifier page says when its verdict is shown; any other page is done once loaded
            if at == search and (done == "1" or (ready == "complete" and not verifier)):
                return
        raise AssertionError(f"the page did not finish within {timeout} s: {url[:200]}")

    def dom(self) -> str:
        return self.evaluate("'<!DOCTYPE html>' + document.documentElement.outerHTML") or ""

    def screenshot(self, out: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        out.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: Browser | None = None


def browser() -> Browser:
    """One Chromium for the whole test process (started on first use, closed at exit)."""
    global _shared
    if _shared is None or _shared.proc.poll() is not None:
        _shared = Browser()
        import atexit

        atexit.register(_shared.close)
    return _shared


def _url(page: Path, fragment: str) -> str:
    # a fresh query each time: a navigation that only changes the fragment would not reload the page
    _url.n = getattr(_url, "n", 0) + 1  # type: ignore[attr-defined]
    return page.resolve().as_uri() + f"?run={_url.n}" + fragment  # type: ignore[attr-defined]


def dump_dom(page: Path, fragment: str = "") -> str:
    b = browser()
    b.open(_url(page, fragment))
    return b.dom()


def screenshot(page: Path, name: str, fragment: str = "", size: str = "1100,900") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / name
    b = browser()
    w, h = (int(x) for x in size.split(","))
    b.call("Emulation.setDeviceMetricsOverride", session=True, width=w, height=h, deviceScaleFactor=1, mobile=False)
    b.open(_url(page, fragment))
    b.screenshot(out)
    assert out.exists() and out.stat().st_size > 1000, f"no screenshot written for {page}"
    return out


def proof_fragment(proof_text: str) -> str:
    return "#proof=" + base64.urlsafe_b64encode(proof_text.encode()).decode().rstrip("=")
