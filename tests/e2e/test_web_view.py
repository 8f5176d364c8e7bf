"""`stratlog view ADDR --web`: the dashboard served on loopback and loaded in headless Chromium
(Debian's package) shows the run's header and its step (issue 21).

A real sink's publisher (`FramePublisher`) sends the demo recording's frames over and over, so
the viewer each browser tab starts receives the run whenever it subscribes. The test drives
Chromium over its DevTools protocol and reads the terminal's screen buffer (xterm.js, which
textual-serve draws with WebGL or canvas, so the text is not in the DOM): a script installed
before the page's own catches the terminal object as the page makes it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from stratlog.protocol import RecordingReader, decode
from stratlog.sink.fanout import FramePublisher
from tests.processes import free_address, stratlog_command, wait_for

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytest.importorskip("textual_serve", reason="the web extra (textual-serve) is not installed")
aiohttp = pytest.importorskip("aiohttp", reason="aiohttp (textual-serve's) drives Chromium's DevTools protocol")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it",
                allow_module_level=True)

RECORDING = Path(__file__).parents[1] / "fixtures" / "demo-20-steps.stratrec"
CATCH_TERMINAL = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true, enumerable: true});
    if (this.terminal) window.__terminals.push(this.terminal);
  },
});
"""
SCREEN_TEXT = """(() => {
  const terminal = window.__terminals[0];
  if (!terminal) return "";
  const buffer = terminal.buffer.active, lines = [];
  for (let row = 0; row < buffer.length; row++) lines.push(buffer.getLine(row).translateToString(true));
  return lines.join("\\n");
})()"""


def publish_forever(address: str, stop: threading.Event) -> None:
    frames = [record.frame for record in RecordingReader(RECORDING)]
    publisher = FramePublisher(address)
    try:
        while not stop.is_set():
            for frame in frames:
                publisher.publish(frame)
            stop.wait(1.0)
    finally:
        publisher.close()


async def screen_of(devtools_page: str, url: str, wanted: re.Pattern, timeout_s: float) -> str:
    """Opens `url` in the page and returns its terminal's text once `wanted` is on it (or the last text)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(devtools_page, max_msg_size=0) as socket:
        ids = iter(range(1, 1_000_000))

        async def call(method: str, **params) -> dict:
            sent = next(ids)
            await socket.send_json({"id": sent, "method": method, "params": params})
            while True:
                reply = json.loads((await socket.receive()).data)
                if reply.get("id") == sent:
                    return reply.get("result", {})

        await call("Page.enable")
        await call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
        await call("Page.navigate", url=url)
        text = ""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            result = await call("Runtime.evaluate", expression=SCREEN_TEXT, returnByValue=True)
            text = result.get("result", {}).get("value") or ""
            if wanted.search(text):
                return text
            await asyncio.sleep(0.5)
        return text


def test_the_dashboard_in_a_browser_shows_the_run(tmp_path, process_group):
    sink_publish = free_address()
    stop = threading.Event()
    publishing = threading.Thread(target=publish_forever, args=(sink_publish, stop), daemon=True)
    publishing.start()
    port = int(free_address().rsplit(":", 1)[1])
    try:
        server = process_group.start(stratlog_command("view", sink_publish, "--web", f"127.0.0.1:{port}"),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def serving() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status == 200
            except OSError:
                assert server.poll() is None, server.stdout.read()
                return False

        wait_for(serving, 60, what="the web view to serve")
        browser = process_group.start([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                       "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'chromium'}",
                                       "--window-size=1400,1000", "about:blank"],
                                      stderr=subprocess.PIPE, text=True)
        devtools = None
        while devtools is None:  # Chromium says where its DevTools listen on stderr
            line = browser.stderr.readline()
            assert line, "Chromium exited before its DevTools listened"
            if match := re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line):
                devtools = int(match.group(1))
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list", timeout=10))
        page = next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")
        run_id = decode(next(iter(RecordingReader(RECORDING))).frame).run_id
        header = re.compile(rf"run {run_id[:8]}\s+step [1-9]\d*")
        text = asyncio.run(screen_of(page, f"http://127.0.0.1:{port}/", header, timeout_s=90))
        assert header.search(text), f"the page's terminal shows:\n{text}"
    finally:
        stop.set()
        publishing.join(timeout=5)
