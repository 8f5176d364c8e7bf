"""Log files: size-based rotation never splits a line, and the set reads back in order.
Run: ./run-tests tests/sink/test_log_files.py"""

from __future__ import annotations

from stratlog.sink.log_files import RotatingTextFile


def test_rotation_starts_new_files_between_lines_in_writing_order(tmp_path):
    log = RotatingTextFile(tmp_path / "findings.jsonl", rotate_bytes=100)
    lines = [f'{{"line": {i}, "pad": "{"é" * 20}"}}\n' for i in range(10)]  # 2-byte characters count as 2
    for line in lines:
        log.write(line)
    log.close()
    files = sorted(tmp_path.iterdir(), key=lambda path: int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0)
    assert [path.name for path in files][:3] == ["findings.jsonl", "findings.jsonl.1", "findings.jsonl.2"]
    assert all(path.stat().st_size <= 100 for path in files)
    assert "".join(path.read_text(encoding="utf-8") for path in files) == "".join(lines)
