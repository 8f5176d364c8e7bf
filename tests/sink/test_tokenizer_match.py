"""A sink given another tokenizer than the run's says so once, as a FAIL about its own
configuration; it shows raw ids instead of wrong text, and judges the data exactly as with the
right tokenizer (no data finding blamed on it). The recording is the fixed demo run with its
run starts carrying the run's tokenizer identity (protocol 1.2); the wrong tokenizer is the demo
tokenizer with its ids reversed, a fixed permutation that moves the special tokens too.
Run: ./run-tests tests/sink/test_tokenizer_match.py"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from stratlog.protocol import MessageDecoder, RecordingReader, RecordingWriter, RunStart, TokenizerIdentity, encode
from stratlog.sink.analysis.tokenizer_match import tokenizer_finding
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import replay_recording
from tests.processes import read_jsonl
from tests.tui.replayed import RECORDING, TOKENIZER


def reversed_tokenizer(folder: Path) -> Path:
    """The demo tokenizer with id i moved to size - 1 - i (ordinary and special tokens alike)."""
    config = json.loads(TOKENIZER.read_text())
    last = len(config["model"]["vocab"]) - 1
    config["model"]["vocab"] = {token: last - index for token, index in config["model"]["vocab"].items()}
    for added in config["added_tokens"]:
        added["id"] = last - added["id"]
    path = folder / "reversed-tokenizer.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def identified_recording(tmp_path_factory) -> Path:
    """The demo recording as a 1.2 sender writes it: run starts carry the tokenizer's identity."""
    identity = TokenizerIdentity.of(Tokenizer.from_file(str(TOKENIZER)))
    decoder = MessageDecoder()
    path = tmp_path_factory.mktemp("recording") / "identified.stratrec"
    with RecordingWriter(path) as writer:
        for record in RecordingReader(RECORDING):
            frame = record.frame
            message = decoder.decode(frame)
            if isinstance(message, RunStart):
                message.tokenizer_identity = identity
                frame = encode(message)
            writer.write(frame, received_at=record.received_at, step=record.step)
    return path


def replayed(recording: Path, tokenizer: Path, log_dir: Path) -> tuple[list[dict], str, DashboardModel]:
    pipeline = SinkPipeline(log_dir, tokenizer_path=str(tokenizer))
    model = DashboardModel.attach(pipeline)
    replay_recording(recording, pipeline)
    pipeline.close()
    return read_jsonl(log_dir / "findings.jsonl"), (log_dir / "strategic_log.txt").read_text(), model


def without_tokenizer_verdict(findings: list[dict]) -> list[dict]:
    return [finding for finding in findings if (finding["analysis"], finding["check"]) != ("sink", "tokenizer")]


def test_another_tokenizer_is_one_configuration_fail_raw_ids_and_no_data_finding(identified_recording, tmp_path):
    right, right_log, _ = replayed(identified_recording, TOKENIZER, tmp_path / "right")
    wrong, wrong_log, model = replayed(identified_recording, reversed_tokenizer(tmp_path), tmp_path / "wrong")

    verdicts = [finding for finding in wrong if finding["check"] == "tokenizer"]
    assert [(f["analysis"], f["severity"], f["rank"]) for f in verdicts] == [("sink", "FAIL", None)]
    assert "not the run's" in verdicts[0]["reason"] and "special token(s) at other ids" in verdicts[0]["reason"]
    assert [f["severity"] for f in right if f["check"] == "tokenizer"] == ["OK"]

    assert without_tokenizer_verdict(wrong) == without_tokenizer_verdict(right)  # the data judged alike
    assert not [f for f in wrong if "role headers are broken" in f["reason"]]

    decoded = [line for line in wrong_log.splitlines() if line.startswith(("├── Decoded", "└── Decoded"))]
    assert decoded and all("<the sink's tokenizer is not run" in line and "ids shown raw>" in line for line in decoded)
    assert "Speak in the voice" in right_log and "Speak in the voice" not in wrong_log
    for history in model.ranks.values():  # the dashboard's token view: raw ids, never decoded text
        for capture in history.captures.values():
            pieces = [piece for region in capture.readings["input"] for piece in region.pieces]
            assert pieces and {piece.kind for piece in pieces} == {"unknown"}


def test_a_recording_from_before_the_identity_is_not_judged(tmp_path):
    findings, log, _ = replayed(RECORDING, reversed_tokenizer(tmp_path), tmp_path / "old")
    assert not [finding for finding in findings if finding["check"] == "tokenizer"]  # nothing to compare with


def test_a_vocabulary_permuted_past_its_special_tokens_is_named_as_such(tmp_path):
    config = json.loads(TOKENIZER.read_text())
    specials = {added["id"] for added in config["added_tokens"]}
    ordinary = sorted(set(config["model"]["vocab"].values()) - specials)
    moved = dict(zip(ordinary, reversed(ordinary)))
    config["model"]["vocab"] = {token: moved.get(index, index) for token, index in config["model"]["vocab"].items()}
    (tmp_path / "tokenizer.json").write_text(json.dumps(config))
    run = TokenizerIdentity.of(Tokenizer.from_file(str(TOKENIZER)))
    ours = TokenizerIdentity.of(Tokenizer.from_file(str(tmp_path / "tokenizer.json")))
    finding = tokenizer_finding("run", "ours", ours, run)
    assert finding.severity == "FAIL" and "ordinary tokens at other ids" in finding.reason
    assert tokenizer_finding("run", "ours", run, run).severity == "OK"
    assert tokenizer_finding("run", "ours", ours, TokenizerIdentity()) is None  # a sender before 1.2
