"""The dashboard in a real terminal: `stratlog replay FILE --tui` runs in tmux at 120x40 and at
80x24; on every tab each panel's title is on screen, every box is closed (nothing cut off at the
bottom or right), header and footer are whole; the run summary shows once the replay is over and
escape goes back to the dashboard; q quits. Skipped only when tmux is missing.
Run: ./run-tests tests/tui/test_terminal.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.processes import wait_for
from tests.tui.replayed import RECORDING, TOKENIZER

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")

TAB_TITLES = {
    "1": ("Input", "Output", "Shared attn / DualFFN", "Zero-shot", "Metrics & stream"),
    "2": ("Input findings", "Decoded input (sample 0)"),
    "3": ("Output findings", "Per-codebook accuracy", "Over captures"),
    "4": ("Attention / DualFFN findings", "Heatmap: layers x heads", "DualFFN"),
    "5": ("Zero-shot findings", "True vs swapped reference", "Over captures"),
    "6": ("Findings history (all ranks)",),
}
TAB_LABELS = ("1 Overview", "2 Input", "3 Output", "4 Attention", "5 Zero-shot", "6 History")


class Tmux:
    """One private tmux server (its own socket), so tests never touch a user's sessions.

    It gets an explicit environment without COLUMNS and LINES: under pytest the process's C-level
    environment holds LINES=24 COLUMNS=80 (set by a library; os.environ does not show them), a
    child started with the inherited environment passes them on, and Textual (through
    shutil.get_terminal_size) would then draw 80x24 in a 120x40 pane."""

    def __init__(self):
        self.socket = f"stratlog-test-{uuid.uuid4().hex[:8]}"
        self.env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check,
                              env=self.env)
        return done.stdout

    def screen(self) -> list[str]:
        return self("capture-pane", "-p", "-t", "dash").split("\n")[:-1]

    def running(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "dash"], capture_output=True,
                              env=self.env).returncode == 0


@pytest.fixture
def tmux():
    server = Tmux()
    yield server
    server("kill-server", check=False)


def drawn(lines: list[str], titles: tuple[str, ...]) -> list[str] | None:
    """The screen once the tab's panels and the footer are drawn (the footer redraws itself
    a moment after a tab switch)."""
    text = "\n".join(lines)
    return lines if lines and lines[-1].strip() and all(f"╭─ {title} ─" in text for title in titles) else None


@pytest.mark.parametrize("width,height", [(120, 40), (80, 24)])
def test_every_panel_title_is_visible_and_nothing_is_cut_off(tmux, tmp_path, width, height):
    command = [sys.executable, "-m", "stratlog.cli", "replay", str(RECORDING), "--tui", "--speed", "max",
               "--tokenizer", str(TOKENIZER), "--log-dir", str(tmp_path / "logs")]
    tmux("new-session", "-d", "-s", "dash", "-x", str(width), "-y", str(height), " ".join(command))
    wait_for(lambda: "press any key to close" in "\n".join(tmux.screen()), 30, what="the run summary once replayed")
    tmux("send-keys", "-t", "dash", "Escape")  # back to the finished replay's dashboard
    wait_for(lambda: "replay finished" in "\n".join(tmux.screen()), 10, what="the replay to finish on screen")
    for key, titles in TAB_TITLES.items():
        if key == "1" and height >= 34:  # a shorter overview gives the charts' frame and the trends to the findings
            titles = ("Metrics", "Over captures", *titles)
        tmux("send-keys", "-t", "dash", key)
        lines = wait_for(lambda: drawn(tmux.screen(), titles), 5, what=f"tab {key}'s panels {titles} and footer")
        text = "\n".join(lines)
        assert len(lines) == height and all(len(line) <= width for line in lines)
        assert lines[0].startswith(" run ") and "step 20" in lines[0], "header line 1 is missing or cut"
        assert all(label in text for label in TAB_LABELS), "a tab label is cut off"
        assert "q Quit" in lines[-1] and "? Help" in lines[-1], f"footer is cut off: {lines[-1]!r}"
        assert text.count("╭") == text.count("╰"), f"a box is not closed on tab {key}:\n{text}"
        for line in lines[5:-1]:
            assert line.count("│") % 2 == 0, f"a box is cut at the right edge on tab {key}: {line!r}"
    tmux("send-keys", "-t", "dash", "q")
    wait_for(lambda: not tmux.running(), 10, what="q to quit the dashboard")
