"""Control characters made visible, for every text the sink and its viewers write or draw.

Token text, sample ids, speakers and error messages come from the ranks, and byte-level
tokenizers decode single bytes to raw control characters: a NUL or a form feed written as is
makes `grep` call strategic_log.txt a binary file, and in a terminal it moves the cursor or
clears the screen. Every Unicode control character (C0 but tab and newline, DEL, C1) and the
line and paragraph separators U+2028 / U+2029 (which some viewers take for line breaks) is
replaced by a visible escape: `\\x0c`, `\\x85`, `\\u2028` in text, `\\u000c` in JSON. Texts
without one (nearly all) are returned unchanged after one regex scan.
"""

from __future__ import annotations

import re

Escapes = tuple[tuple[str, str], ...]
"""(ASCII character, its escape) pairs, made in order (`escaped`)."""

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Every character `printable` escapes: Unicode category Cc but tab and newline, and Zl / Zp."""
_JSON_CONTROLS = re.compile("[\x7f-\x9f\u2028\u2029]")
"""What `json.dumps(..., ensure_ascii=False)` leaves raw (it escapes C0 itself)."""


def _text_escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: str) -> str:
    """`text` with its control characters escaped; tabs and newlines kept (multi-line output
    keeps its lines; `human_log.one_line` escapes newlines where one line is needed)."""
    return _CONTROLS.sub(_text_escape, text) if _CONTROLS.search(text) else text


def printable_json(line: str) -> str:
    """A JSON text from `json.dumps(..., ensure_ascii=False)` with the controls it leaves raw
    escaped as JSON escapes (they can only occur inside strings, where `\\uXXXX` means the same)."""
    return _JSON_CONTROLS.sub(_json_escape, line) if _JSON_CONTROLS.search(line) else line


def escaped(text: str, escapes: Escapes) -> str:
    """`text` with each character of `escapes` replaced by its escape, in order (`human_log.one_line`'s
    escapes; a decoder makes them on the bytes it decodes, `token_decoding.RenderTable`)."""
    for character, escape in escapes:
        text = text.replace(character, escape)
    return text
