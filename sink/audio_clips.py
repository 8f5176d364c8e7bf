"""Audio you can hear: each capture's reference, target and predicted codes decoded to WAV files
beside the logs, with the run's own audio tokenizer (`stratlog sink/replay --audio-tokenizer`).

Decoding needs torch and transformers, which the sink never loads: it runs in one child process
(spawned, so no copy of the sink's threads; its code is `stratlog.clip_decoding`), fed through a bounded queue that the sink only ever
puts to without waiting. A full queue (a decoder slower than the captures) drops the capture's clips
and counts them; the sink's logs and recording are unaffected either way. Files:
`<log-dir>/audio/step<step>-rank<rank>-sample<sample>-<role>.wav`, role predicted / reference /
target (the predictions are teacher-forced: the model's next-code guesses given the true codes so
far, what it would say if it never drifted).
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stratlog.protocol import OutputSnapshot
from stratlog.sink.sim_trend import SimTrend

FOLDER = "audio"
ROLES = ("reference", "target", "predicted")
SIM_FILE = "sim.jsonl"
"""One line per capture in the audio folder: its SIM scores (with stratlog[voice])."""
QUEUED_CAPTURES = 64
"""Captures waiting for the decoder at most; past that a capture's clips are dropped (counted)."""
STOP_WAIT_S = 60.0
"""How long closing waits for the decoder to finish the queued captures."""


def clip_name(step: int, rank: int, sample: int, role: str) -> str:
    return f"step{step:07d}-rank{rank}-sample{sample}-{role}.wav"


def capture_codes(message: OutputSnapshot) -> dict[str, np.ndarray]:
    """Role -> [C, T] codes the snapshot carries (protocol 1.3); empty for older senders."""
    tables = {"reference": message.reference_codes, "target": message.target_codes, "predicted": message.predicted_codes}
    found = {}
    for role, table in tables.items():
        codes = table.to_numpy()
        if codes.ndim == 2 and codes.shape[1] > 0:
            found[role] = np.asarray(codes, dtype=np.int64)
    return found


def clip_files(message: OutputSnapshot) -> list[tuple[str, str, np.ndarray]]:
    """(role, file name, codes) of each clip the snapshot carries, in ROLES order."""
    codes = capture_codes(message)
    return [(role, clip_name(message.step, message.rank, message.sample, role), codes[role]) for role in ROLES if role in codes]


def listed_files(message: OutputSnapshot) -> list[str]:
    """The snapshot's WAV files relative to the log folder, as the log and the dashboard name them."""
    return [f"{FOLDER}/{name}" for _, name, _ in clip_files(message)]


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit mono PCM, the format every player opens; written under a temporary name, then renamed."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    temporary = path.with_name(path.name + ".tmp")
    with wave.open(str(temporary), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    temporary.replace(path)


def append_sim_row(folder: Path, row: dict) -> None:
    """One capture's SIM scores as a line of the audio folder's sim.jsonl (`stratlog compare` reads it)."""
    with open(Path(folder) / SIM_FILE, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


class AudioClips:
    """The sink's side: hands captures to the decoding process, never waits for it."""

    def __init__(self, decoder: Callable[[Any, Any], None], log_dir: Path):
        """`decoder(jobs, results)`: the child's work, a picklable callable that loads the run's
        audio tokenizer (`stratlog.clip_decoding.audio_clips` makes it: torch and transformers are
        above the sink's layer)."""
        self.folder = Path(log_dir) / FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        context = multiprocessing.get_context("spawn")
        self._jobs = context.Queue(QUEUED_CAPTURES)
        self._results = context.Queue()
        self._process = context.Process(target=decoder, args=(self._jobs, self._results),
                                        name="stratlog-audio-clips", daemon=True)
        self._process.start()
        self.dropped = 0
        """Captures whose clips were not decoded because the queue was full."""
        self._errors: list[str] = []
        self._decoded: list[dict] = []
        self.trend = SimTrend()

    def offer(self, message) -> list[str]:
        """Any snapshot: an output snapshot's clips are queued and their file names relative to the
        log folder returned (none when it carries no codes or the queue is full); the others tell
        the SIM trend speakers and conditioning effects."""
        if not isinstance(message, OutputSnapshot):
            self.trend.note(message)
            return []
        names = clip_files(message)
        if not names:
            return []
        capture = {"run_id": message.run_id, "step": message.step, "rank": message.rank, "sample": message.sample,
                   "speaker": self.trend.speaker_of(message.run_id, message.rank, message.step, message.sample)}
        try:
            self._jobs.put_nowait((str(self.folder), capture, names))
        except queue.Full:
            self.dropped += 1
            return []
        return [f"{FOLDER}/{name}" for _, name, _ in names]

    def take_scores(self) -> list[dict]:
        """The SIM rows (sim.jsonl's lines) the decoder has scored since the last call, without
        ever waiting for it; its errors are kept for `close`. A row is far below a pipe's atomic
        write size, so a child that dies leaves whole rows or none, never half of one to wait on."""
        rows = []
        while True:
            try:
                outcome, payload = self._results.get_nowait()
            except queue.Empty:
                return rows
            if outcome == "sim":
                rows.append(payload)
            elif outcome == "clips":
                self._decoded.append(payload)
            else:
                self._errors.append(payload)

    def take_decoded(self) -> list[dict]:
        """The captures whose WAV files the decoder has written, seen by `take_scores` since the
        last call: the capture's fields and "files", role -> file name in the audio folder."""
        decoded, self._decoded = self._decoded, []
        return decoded

    def close(self) -> tuple[list[str], list[dict]]:
        """Ends the decoder after the queued captures; returns its errors (and the drop count) and
        the SIM rows not taken yet (read while it finishes, so a full result pipe never holds it up)."""
        try:
            self._jobs.put(None, timeout=STOP_WAIT_S)
        except queue.Full:
            pass
        rows = []
        deadline = time.monotonic() + STOP_WAIT_S
        while self._process.is_alive() and time.monotonic() < deadline:
            rows += self.take_scores()
            self._process.join(0.05)
        if self._process.is_alive():
            self._process.terminate()
        rows += self.take_scores()
        errors = self._errors
        if self.dropped:
            errors.append(f"{self.dropped} capture(s) not decoded: the decoder fell behind")
        return errors, rows

    def sim_summary(self) -> str:
        """After `close`: the SIM trend block for strategic_log.txt ("" without SIM scores)."""
        path = self.folder / SIM_FILE
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []
        return self.trend.summary(rows)


def with_audio_line(section: str, paths: list[str]) -> str:
    """The output section with a line naming its WAV files right under its heading."""
    heading, _, rest = section.partition("\n")
    return f"{heading}\n├── Audio Files: {', '.join(paths)}\n{rest}" if rest else f"{heading}\n└── Audio Files: {', '.join(paths)}"
