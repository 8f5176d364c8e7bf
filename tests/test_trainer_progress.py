"""The dashboard's word about the trainer before its first capture: the last line of trainer.log,
progress bars (carriage returns) included. Run: ./run-tests tests/test_trainer_progress.py"""

from __future__ import annotations

from stratlog.trainer_progress import MAX_CHARS, last_progress_line


def test_the_latest_progress_bar_state_is_the_line(tmp_path):
    log = tmp_path / "trainer.log"
    log.write_text("loading weights\naudio codes:  10%|#  | 24/240\raudio codes:  50%|#####  | 120/240\r")
    assert last_progress_line(log) == "audio codes:  50%|#####  | 120/240"


def test_indented_lines_are_skipped_and_long_lines_cut(tmp_path):
    log = tmp_path / "trainer.log"
    log.write_text("x" * 500 + "\ndataloader.py:759: UserWarning: pin_memory\n  super().__init__(loader)\n\n")
    assert last_progress_line(log) == "dataloader.py:759: UserWarning: pin_memory"
    log.write_text("y" * 500)
    assert len(last_progress_line(log)) == MAX_CHARS and last_progress_line(log).endswith("…")


def test_a_missing_or_empty_log_says_nothing(tmp_path):
    assert last_progress_line(tmp_path / "missing.log") == ""
    (tmp_path / "empty.log").write_text("")
    assert last_progress_line(tmp_path / "empty.log") == ""
