"""The trainer's own latest word, read from the end of its log file for the dashboard's header.

Before the first capture reaches the sink the dashboard has nothing to draw, while the trainer
loads the model, encodes clips (its "audio codes" progress bar) and takes its first steps; its
last line says which. Progress bars rewrite one line with carriage returns, so the last piece
between any two line ends is the latest state.
"""

from __future__ import annotations

import re
from pathlib import Path

TAIL_BYTES = 4096
"""How much of the log's end is read: a few progress lines, whatever the log's size."""
MAX_CHARS = 100
"""The line is cut to this many characters (the header shares the line with the source)."""
_LINE_ENDS = re.compile(r"[\r\n]+")


def last_progress_line(log_file: Path) -> str:
    """The log's last non-blank line ('' while it is empty or missing), cut to MAX_CHARS; an
    indented line (a warning's source line, a traceback's body) says nothing of progress."""
    try:
        with open(log_file, "rb") as log:
            log.seek(0, 2)
            log.seek(max(log.tell() - TAIL_BYTES, 0))
            tail = log.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in _LINE_ENDS.split(tail) if line.strip() and not line[0].isspace()]
    if not lines:
        return ""
    line = lines[-1]
    return line if len(line) <= MAX_CHARS else line[:MAX_CHARS - 1] + "…"
