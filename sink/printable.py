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

import numpy as np

Escapes = tuple[tuple[str, str], ...]
"""(ASCII character, its escape) pairs, made in order (`escaped`)."""

_CONTROL_CODES = (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
"""Every character `printable` escapes: Unicode category Cc but tab and newline, and Zl / Zp."""
_TEXT_ESCAPES = {chr(code): f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL_CODES}
_JSON_ESCAPES = {chr(code): f"\\u{code:04x}" for code in _CONTROL_CODES if code >= 0x7F}
"""What `json.dumps(..., ensure_ascii=False)` leaves raw (it escapes C0 itself)."""
ONE_BYTE_ESCAPES: Escapes = tuple((character, escape) for character, escape in _TEXT_ESCAPES.items()
                                  if character.isascii())
"""`printable`'s escapes of the ASCII controls, for a decoder to make on the bytes it decodes
(`human_log.decoded_line`): the log file finds them made."""


def _splitter(escapes: dict[str, str]) -> re.Pattern:
    """A pattern whose `split` keeps each of `escapes`' characters as a part of its own."""
    return re.compile(f"([{''.join(escapes)}])")


_CONTROLS, _JSON_CONTROLS = _splitter(_TEXT_ESCAPES), _splitter(_JSON_ESCAPES)


def _escaped(text: str, splitter: re.Pattern, escapes: dict[str, str]) -> str:
    """One regex pass that splits `text` at its characters to escape (every odd part is one),
    and a dict lookup for each: ~1.5x faster than a `sub` calling Python for each of an input's
    dozens of control characters; a text without one is returned as it is."""
    parts = splitter.split(text)
    if len(parts) == 1:
        return text
    parts[1::2] = map(escapes.__getitem__, parts[1::2])
    return "".join(parts)


_IS_CONTROL = np.zeros(max(map(ord, _TEXT_ESCAPES)) + 2, dtype=bool)
_IS_CONTROL[[ord(character) for character in _TEXT_ESCAPES]] = True
"""Code point -> whether `printable` escapes it; its last entry (False) stands for every code
point past it (a lookup clips to it)."""
LONG_TEXT = 1024
"""Texts from this many characters on are scanned with NumPy (a log entry with an input's decoded
text: ~16 000): ~1 ns a character where the regex takes ~3, after ~2 us of set-up."""


def printable(text: str) -> str:
    """`text` with its control characters escaped; tabs and newlines kept (multi-line output
    keeps its lines; `human_log.one_line` escapes newlines where one line is needed). A long text
    is read as an array of its code points (NumPy's str dtype), where a control character is
    found by one table lookup and stands at its index in the text."""
    if len(text) < LONG_TEXT:
        return _escaped(text, _CONTROLS, _TEXT_ESCAPES)
    codes = np.array([text]).view(np.uint32)
    parts, start = [], 0
    for position in np.flatnonzero(_IS_CONTROL.take(codes, mode="clip")).tolist():
        parts += (text[start:position], _TEXT_ESCAPES[text[position]])
        start = position + 1
    return "".join(parts) + text[start:] if parts else text


def printable_json(line: str) -> str:
    """A JSON text from `json.dumps(..., ensure_ascii=False)` with the controls it leaves raw
    escaped as JSON escapes (they can only occur inside strings, where `\\uXXXX` means the same)."""
    return _escaped(line, _JSON_CONTROLS, _JSON_ESCAPES)


def escaped(text: str, escapes: Escapes) -> str:
    """`text` with each character of `escapes` replaced by its escape, in order (`human_log.one_line`'s
    escapes; a decoder makes them on the bytes it decodes, `token_decoding.RenderTable`)."""
    for character, escape in escapes:
        text = text.replace(character, escape)
    return text
