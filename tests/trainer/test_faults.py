"""Planted faults (trainer/faults.py) enter through one install point: production carries no
switch for them, `--help` does not show the flag, the parser still takes it, and each data
fault and the model faults change exactly what they claim. tests/diagnostics/ then proves, end
to end, that each is caught; these tests say that what it catches is the fault named.

Run: `python -m pytest -q tests/trainer/test_faults.py` (about 15 s). Every install goes through
pytest's `monkeypatch.setattr`, so no patch outlives its test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig, AutoTokenizer, HfArgumentParser, TrainingArguments

from stratlog.trainer import faults
from stratlog.trainer.adaptation import FREEZE_GROUPS
from stratlog.trainer.data.audio_codes import AudioCodeCache
from stratlog.trainer.data.preparation import prepare_examples
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample, load_samples
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, SequenceBuilder, delay_pattern
from stratlog.trainer.data.validation import ClipLimits
from stratlog.trainer.model import HiggsVoiceCloningModel
from stratlog.trainer.train_v2_ddp import ARGUMENT_CLASSES
from stratlog.trainer.voice_cloning_trainer import VoiceCloningTrainer
from tests.trainer.data_files import demo_records, write_data_file

TRAINER_ROOT = Path(__file__).resolve().parents[2] / "trainer"


def imports_faults(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "stratlog.trainer.faults":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "stratlog.trainer" and "faults" in {a.name for a in node.names}:
            return True
    return False


def test_only_the_entry_point_reaches_the_faults_and_no_signature_carries_them():
    sources = [path for path in TRAINER_ROOT.rglob("*.py") if path.name != "faults.py"]
    assert [path.name for path in sources if imports_faults(path)] == ["train_v2_ddp.py"]
    assert [path.name for path in sources if "plant_fault" in path.read_text()] == ["train_v2_ddp.py"]


def test_help_hides_the_flag_and_the_parser_still_takes_it(tmp_path):
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    assert "plant_fault" not in parser.format_help()
    (tmp_path / "model").mkdir()
    (tmp_path / "train.json").write_text("[]")
    parsed = parser.parse_args_into_dataclasses(args=[
        "--model_path", str(tmp_path / "model"), "--audio_tokenizer_path", str(tmp_path / "model"),
        "--train_data_file", str(tmp_path / "train.json"), "--output_dir", str(tmp_path / "out"),
        "--plant_fault", "shifted_labels"])
    assert next(args for args in parsed if isinstance(args, faults.FaultArguments)).plant_fault == "shifted_labels"
    with pytest.raises(ValueError, match="--plant_fault"):
        faults.FaultArguments(plant_fault="no_such_fault")


def test_no_fault_patches_nothing():
    def refuse(*args):
        raise AssertionError(f"patched {args[:2]}")
    faults.install("", patch=refuse)


# --- data faults ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def builder(demo_assets):
    return SequenceBuilder(AutoTokenizer.from_pretrained(demo_assets.model_dir),
                           AudioTokenIds.from_config(AutoConfig.from_pretrained(demo_assets.model_dir)))


def build(builder: SequenceBuilder):
    """A sample with a 2-frame reference and a 3-frame target (codes 10 * codebook + frame)."""
    sample = VoiceCloningSample("hand_0", "spk", "en", "Hi.", "Yes.", AudioClip(Path("ref.wav")), "No.", AudioClip(Path("tgt.wav")))
    codes = lambda frames: np.array([[10 * k + t for t in range(frames)] for k in range(8)], dtype=np.int16)  # noqa: E731
    return builder.build(sample, codes(2), codes(3))


def test_shifted_labels_moves_every_label_one_position_later(builder, monkeypatch):
    healthy = build(builder)
    faults.install("shifted_labels", patch=monkeypatch.setattr)
    planted = build(builder)
    assert planted.input_ids.tolist() == healthy.input_ids.tolist()
    assert planted.labels.tolist() == [IGNORE_INDEX] + healthy.labels[:-1].tolist()
    assert planted.audio_labels.tolist() == [[IGNORE_INDEX] * 8] + healthy.audio_labels[:-1].tolist()


def test_masked_audio_eos_masks_only_the_stream_eos(builder, monkeypatch):
    healthy = build(builder)
    faults.install("masked_audio_eos", patch=monkeypatch.setattr)
    planted = build(builder)
    eos = healthy.audio_labels == builder.ids.stream_eos
    assert eos.any() and not (planted.audio_labels == builder.ids.stream_eos).any()
    assert (planted.audio_labels[~eos] == healthy.audio_labels[~eos]).all()


def test_missing_reference_turn_leaves_only_the_target_audio(builder, monkeypatch):
    healthy = build(builder)
    faults.install("missing_reference_turn", patch=monkeypatch.setattr)
    planted = build(builder)
    reference_rows = 2 + 2 + 7  # 2 frames + stream BOS and EOS + 7 delay rows
    assert planted.audio_input_ids.tolist() == healthy.audio_input_ids[reference_rows:].tolist()
    assert planted.audio_labels.tolist() == healthy.audio_labels[reference_rows:].tolist()
    assert (planted.input_ids == builder.ids.audio_bos_token).sum() == 1
    tokenizer = builder.tokenizer
    assert "Yes." in tokenizer.decode(planted.input_ids)  # the reference transcript stays


def test_silent_reference_encodes_silence_as_long_as_each_reference(demo_assets, builder, monkeypatch, tmp_path):
    # Looked up here, once importing train_v2_ddp has installed the torchaudio stand-in it needs.
    from transformers import HiggsAudioV2TokenizerModel

    samples = load_samples(write_data_file(demo_assets, tmp_path / "data", demo_records(demo_assets, 2)))
    codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(demo_assets.audio_tokenizer_dir),
                           demo_assets.audio_tokenizer_dir, tmp_path / "codes")
    prepare = lambda: prepare_examples(samples, codes, builder, limits=ClipLimits(30.0, 0.1),  # noqa: E731
                                       skip_bad_samples=False, show_progress=False).examples
    healthy = prepare()
    faults.install("silent_reference", patch=monkeypatch.setattr)
    planted = prepare()
    silences = [codes.codes_for(AudioClip(path)) for path in sorted((codes.folder / "planted-silence").glob("*.wav"))]
    assert len(planted) == len(samples.samples) == 2
    for sample, before, after in zip(samples.samples, healthy, planted):
        reference = codes.codes_for(sample.ref_audio)
        silent = next(silence for silence in silences if silence.shape == reference.shape)  # as many frames
        assert not np.array_equal(silent, reference)
        rows = len(delay_pattern(reference, builder.ids))
        assert after.audio_input_ids[:rows].tolist() == delay_pattern(silent, builder.ids).tolist()
        assert after.audio_input_ids[rows:].tolist() == before.audio_input_ids[rows:].tolist()  # the target is untouched


# --- model and training-loop faults --------------------------------------------------------------

@pytest.fixture
def trainer_for(demo_assets, tmp_path):
    def make() -> VoiceCloningTrainer:
        model = HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True)
        args = TrainingArguments(output_dir=str(tmp_path), report_to="none", learning_rate=1e-3, warmup_steps=5, use_cpu=True)
        return VoiceCloningTrainer(model=model, args=args)
    return make


def test_frozen_audio_ffn_freezes_the_audio_path_and_nothing_else(trainer_for, monkeypatch):
    faults.install("frozen_audio_ffn", patch=monkeypatch.setattr)
    names = {name: parameter.requires_grad for name, parameter in trainer_for().model.named_parameters()}
    audio_ffn = {name for name in names if any(fragment in name for fragment in FREEZE_GROUPS["freeze_audio_ffn"])}
    assert any(".audio_mlp." in name for name in audio_ffn)
    assert {name for name, trains in names.items() if not trains} == audio_ffn


def test_tiny_lr_after_warmup_warms_up_then_drops_to_1e_9(trainer_for, monkeypatch):
    faults.install("tiny_lr_after_warmup", patch=monkeypatch.setattr)
    trainer = trainer_for()
    trainer.create_optimizer_and_scheduler(num_training_steps=20)
    rates = []
    for _ in range(8):
        rates.append(trainer.lr_scheduler.get_last_lr()[0])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert rates[:5] == pytest.approx([0, 2e-4, 4e-4, 6e-4, 8e-4]) and rates[5:] == pytest.approx([1e-9] * 3)
