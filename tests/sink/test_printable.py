"""Control characters from the data never reach a file or a terminal raw: the human log, the
findings' JSON and the escaping itself. Run: ./run-tests tests/sink/test_printable.py"""

from __future__ import annotations

import json
import random
import unicodedata

from stratlog.sink.findings import WARN, Finding
from stratlog.sink.human_log import one_line
from stratlog.sink.log_files import LogFiles
from stratlog.sink.printable import LONG_TEXT, printable, printable_json

RAW = "nul\x00 ff\x0c dc4\x14 del\x7f nel\x85 ls\u2028 tab\t nl\n 中文 ñ"


def control_characters(text: str) -> list[str]:
    """Every character a text file must not hold raw (Cc but tab and newline, Zl, Zp)."""
    return [c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"]


def test_controls_are_escaped_and_everything_else_kept():
    assert printable(RAW) == "nul\\x00 ff\\x0c dc4\\x14 del\\x7f nel\\x85 ls\\u2028 tab\t nl\n 中文 ñ"
    assert printable("plain text 中文") == "plain text 中文"


def test_the_human_log_and_findings_hold_no_control_character(tmp_path):
    files = LogFiles(tmp_path)
    files.write_human(f'Decoded: "{one_line(RAW)}"\n')
    files.write_finding(Finding("run", 0, 1, "input", "check", WARN, f"sample {RAW}"))
    files.close()
    log = (tmp_path / "strategic_log.txt").read_text(encoding="utf-8")
    assert log == 'Decoded: "nul\\x00 ff\\x0c dc4\\x14 del\\x7f nel\\x85 ls\\u2028 tab\t nl\\n 中文 ñ"\n'
    findings = (tmp_path / "findings.jsonl").read_text(encoding="utf-8")
    assert not control_characters(log) and not control_characters(findings)
    assert json.loads(findings)["reason"] == f"sample {RAW}"  # JSON escapes: the value is intact
    assert "中文" in findings  # readable, not \\u-escaped


def escaped_one_by_one(text: str, json_line: bool = False) -> str:
    """The escaping written out character by character from Unicode's categories: the reference."""
    out = []
    for character in text:
        code = ord(character)
        category = unicodedata.category(character)
        if json_line and (category in ("Zl", "Zp") or (category == "Cc" and code >= 0x7F)):
            out.append(f"\\u{code:04x}")
        elif not json_line and (category in ("Zl", "Zp") or (category == "Cc" and character not in "\t\n")):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(character)
    return "".join(out)


def test_every_code_point_is_escaped_as_its_category_says():
    """printable / printable_json against the character-by-character reference: every code point
    (in chunks, controls next to each other and to text), and random mixes."""
    everything = "".join(map(chr, range(0x110000)))
    for start in range(0, len(everything), 0x10000):
        chunk = everything[start:start + 0x10000]
        assert printable(chunk) == escaped_one_by_one(chunk)
        assert printable_json(chunk) == escaped_one_by_one(chunk, json_line=True)
    rng = random.Random(5)
    alphabet = [*map(chr, range(0x00, 0xA1)), "\u2028", "\u2029", "中", "\ufffd", "\\", "\ud800"]
    for _ in range(500):  # short texts (regex) and long ones (NumPy), with and without a character past U+FFFF
        length = rng.choice([rng.randrange(0, 60), rng.randrange(LONG_TEXT - 2, 3 * LONG_TEXT)])
        text = "".join(rng.choices(alphabet, k=length))
        text = rng.choice([text, text + "😀", "😀" + text, "\x00" + text + "\x1b"])
        assert printable(text) == escaped_one_by_one(text)
        assert printable_json(text) == escaped_one_by_one(text, json_line=True)
