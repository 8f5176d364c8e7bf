"""Control characters from the data never reach a file or a terminal raw: the human log, the
findings' JSON and the escaping itself. Run: ./run-tests tests/sink/test_printable.py"""

from __future__ import annotations

import json

from stratlog.sink.findings import WARN, Finding
from stratlog.sink.human_log import one_line
from stratlog.sink.log_files import LogFiles
from stratlog.sink.printable import printable

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
