"""A sink pipeline with --audio-tokenizer (the demo's tiny audio tokenizer, its real decoding child)
and --report-to targets, fed output snapshots that carry codes: the export tests of clips and SIM.
tests/fixtures/demo-20-steps.stratrec predates protocol 1.3's codes, so its replay decodes no clips."""

from __future__ import annotations

from pathlib import Path

from stratlog.clip_decoding import audio_clips
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.report.reporter import Reporter
from tests.sink.builders import input_snapshot, output_snapshot, run_start, zero_shot_snapshot
from tests.sink.test_audio_clips import codes

CAPTURES = ((10, 0), (10, 1), (20, 0))
"""(step, rank) of each capture sent."""


def export_captures(audio_tokenizer_dir: Path, log_dir: Path, targets: list[str]) -> None:
    """Sends CAPTURES through the pipeline and closes it (the decoder's last results exported too)."""
    pipeline = SinkPipeline(log_dir, reporter=Reporter.for_targets(targets, log_dir),
                            audio_clips=audio_clips(audio_tokenizer_dir, log_dir))
    pipeline.handle_message(run_start(), 1.0)
    for seed, (step, rank) in enumerate(CAPTURES):
        pipeline.handle_message(input_snapshot(step=step, rank=rank), 2.0)
        pipeline.handle_message(output_snapshot(step=step, rank=rank, reference_codes=codes(31, seed),
                                                target_codes=codes(24, seed + 10), predicted_codes=codes(24, seed + 20)), 2.0)
        pipeline.handle_message(zero_shot_snapshot(step=step, rank=rank), 2.0)
    pipeline.close()
