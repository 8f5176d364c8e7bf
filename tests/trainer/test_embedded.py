"""Tests of the embedded default (trainer/embedded) and the torchaudio stand-in.

Run: `python -m pytest tests/trainer/test_embedded.py -q` (about 30 s on 2 cores). The demo is built
once per module into a temporary folder (module-scoped fixture); one more build checks byte-identical
rebuilds. Everything is deterministic by construction (fixed seeds), so no test needs its own seed.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from safetensors.torch import load_file

from stratlog.trainer.embedded import DemoAssets, prepare_demo
from stratlog.trainer.embedded.codec_fitting import CodecFitSettings, fit_codec
from stratlog.trainer.embedded.demo_dataset import english_sentence
from stratlog.trainer.embedded.prepare import DEMO_VERSION, STAMP_FILE
from stratlog.trainer.embedded.synthetic_voices import MAX_CLIP_SECONDS, MIN_CLIP_SECONDS, VOICES, synthesize
from stratlog.trainer.embedded.tiny_audio_tokenizer import TinyAudioTokenizerSettings, build_tiny_audio_tokenizer
from stratlog.protocol.higgs_tokens import SPECIAL_TOKENS
from stratlog.trainer.torchaudio_standin import resample
from tests.test_layers import imported_modules
from transformers import (
    AutoFeatureExtractor,
    AutoTokenizer,
    HiggsAudioV2ForConditionalGeneration,
    HiggsAudioV2TokenizerModel,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoAssets:
    return prepare_demo(tmp_path_factory.mktemp("demo-cache"))


@pytest.fixture(scope="module")
def train_records(demo: DemoAssets) -> list[dict]:
    return json.loads(demo.train_data_file.read_text(encoding="utf-8"))


def _tree_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- build: cache, idempotence, determinism -------------------------------------------------------

def test_assets_exist_in_a_versioned_folder(demo: DemoAssets) -> None:
    assert demo.root.name == DEMO_VERSION
    for path in (demo.model_dir, demo.audio_tokenizer_dir):
        assert path.is_dir()
    for path in (demo.train_data_file, demo.manifest_file, demo.root / STAMP_FILE):
        assert path.is_file()


def test_completed_build_is_reused_at_once(demo: DemoAssets) -> None:
    started = time.perf_counter()
    again = prepare_demo(demo.root.parent)
    assert again == demo
    assert time.perf_counter() - started < 0.5


def test_rebuild_is_byte_identical_and_replaces_a_half_written_build(
    demo: DemoAssets, tmp_path: Path
) -> None:
    half_written = tmp_path / DEMO_VERSION
    (half_written / "model").mkdir(parents=True)
    (half_written / "model" / "leftover.bin").write_bytes(b"interrupted")  # no stamp: must be rebuilt
    rebuilt = prepare_demo(tmp_path)
    assert not (rebuilt.model_dir / "leftover.bin").exists()
    first, second = _tree_digests(demo.root), _tree_digests(rebuilt.root)
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    assert "model/model.safetensors" in first and "audio_tokenizer/model.safetensors" in first


def test_the_product_never_imports_the_demo_builder() -> None:
    """Constants the product needs live in the product, and the demo builder imports them (the
    cache root, the Higgs token names): training a user's checkpoint must not load the demo."""
    product = [path for path in (REPOSITORY_ROOT / "trainer").rglob("*.py") if "embedded" not in path.parts]
    offenders = {str(path.relative_to(REPOSITORY_ROOT)): sorted(name for name in imported_modules(path)
                                                                if name.startswith("stratlog.trainer.embedded"))
                 for path in product}
    assert {path: names for path, names in offenders.items() if names} == {}


# --- text tokenizer ------------------------------------------------------------------------------

def test_chat_template_renders_a_zero_shot_conversation_exactly(demo: DemoAssets) -> None:
    tokenizer = AutoTokenizer.from_pretrained(demo.model_dir)
    conversation = [
        {"role": "system", "content": "Speak in the voice heard in the reference clip."},
        {"role": "user", "content": "The river was calm."},
        {"role": "assistant", "content": [{"type": "audio", "audio_url": "ref.wav"}]},
        {"role": "user", "content": [{"type": "text", "text": "Bring the lantern."}]},
        {"role": "assistant", "content": [{"type": "audio", "audio_url": "tgt.wav"}]},
    ]
    expected = (
        "<|begin_of_text|>"
        "<|start_header_id|>system<|end_header_id|>\n\nSpeak in the voice heard in the reference clip.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nThe river was calm.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|><|AUDIO_OUT|><|audio_eos|><|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nBring the lantern.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n<|audio_out_bos|><|AUDIO_OUT|><|audio_eos|><|eot_id|>"
    )
    assert tokenizer.apply_chat_template(conversation, tokenize=False) == expected
    prompt = tokenizer.apply_chat_template(conversation[:4], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("Bring the lantern.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    # Audio given in a user turn is input audio, and text items are concatenated as they are.
    user_audio = [{"role": "user", "content": [
        {"type": "text", "text": "Hi "}, {"type": "audio", "audio_url": "x.wav"}, {"type": "text", "text": "there"}]}]
    assert tokenizer.apply_chat_template(user_audio, tokenize=False) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        "Hi <|audio_bos|><|AUDIO|><|audio_eos|>there<|eot_id|>"
    )


def test_special_tokens_are_single_ids_and_roles_are_set(demo: DemoAssets) -> None:
    tokenizer = AutoTokenizer.from_pretrained(demo.model_dir)
    ids = [tokenizer.encode(token, add_special_tokens=False) for token in SPECIAL_TOKENS]
    assert all(len(token_ids) == 1 for token_ids in ids)
    assert len({token_ids[0] for token_ids in ids}) == len(SPECIAL_TOKENS)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (
        "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>")
    assert 1000 <= len(tokenizer) <= 2000
    assert (demo.model_dir / "chat_template.jinja").is_file()


@pytest.mark.parametrize("text", ["El río está cerca.", "我们今天去公园。", "<SE>[Laughter]</SE> Ünïcode ✓"])
def test_byte_level_tokenizer_round_trips_any_script(demo: DemoAssets, text: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(demo.model_dir)
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


# --- tiny model ----------------------------------------------------------------------------------

def test_model_reloads_with_its_text_head_and_tokenizer_ids(demo: DemoAssets) -> None:
    model = HiggsAudioV2ForConditionalGeneration.from_pretrained(demo.model_dir, use_text_head=True)
    assert model.text_lm_head is not None
    saved = load_file(demo.model_dir / "model.safetensors")
    state = model.state_dict()
    assert "text_lm_head.weight" in saved
    assert all(torch.equal(state[name], tensor) for name, tensor in saved.items())

    tokenizer = AutoTokenizer.from_pretrained(demo.model_dir)
    config = model.config
    assert config.vocab_size == len(tokenizer)
    assert config.audio_token_id == tokenizer.convert_tokens_to_ids("<|AUDIO_OUT|>")
    assert config.audio_bos_token_id == tokenizer.convert_tokens_to_ids("<|audio_out_bos|>")
    assert config.audio_delay_token_id == tokenizer.convert_tokens_to_ids("<|reserved_special_token_6|>")
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (
        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert (config.num_codebooks, config.codebook_size) == (8, 1026)
    assert (config.audio_stream_bos_id, config.audio_stream_eos_id) == (1024, 1025)


def test_model_loaded_without_the_flag_silently_drops_the_text_head(demo: DemoAssets) -> None:
    """Documents the transformers trap the loader must avoid: `use_text_head=True` is needed again."""
    model = HiggsAudioV2ForConditionalGeneration.from_pretrained(demo.model_dir)
    assert model.text_lm_head is None


# --- tiny audio tokenizer ------------------------------------------------------------------------

def test_audio_tokenizer_reloads_and_encodes_two_seconds_to_fifty_frames(demo: DemoAssets) -> None:
    tokenizer = HiggsAudioV2TokenizerModel.from_pretrained(demo.audio_tokenizer_dir).eval()
    embeds = [quantizer.codebook.embed for quantizer in tokenizer.quantizer.quantizers]
    assert all(embed.abs().sum() > 0 for embed in embeds)  # the fitted codebooks survived save/load
    saved = load_file(demo.audio_tokenizer_dir / "model.safetensors")
    assert torch.equal(saved["quantizer.quantizers.0.codebook.embed"], embeds[0])

    clip_path = demo.train_data_file.parent / "clips" / "spk03_0000_tgt.wav"
    audio, rate = soundfile.read(clip_path, dtype="float32")
    assert rate == 24000
    two_seconds = np.resize(audio, 48000)  # repeat the clip to exactly 2 s
    with torch.no_grad():
        codes = tokenizer.encode(torch.from_numpy(two_seconds)[None, None]).audio_codes
    assert codes.shape == (1, 8, 50)
    assert 0 <= codes.min() and codes.max() < 1024
    assert all(len(torch.unique(codes[0, q])) > 5 for q in range(8))


def _speaker_gain(seen: list[tuple[str, np.ndarray]], held_out: list[tuple[str, np.ndarray]], alphabet: int) -> float:
    """Nats per frame by which a speaker's code distribution (counted on `seen`) predicts `held_out`
    codes better than the pooled distribution; the best of a few mixtures with the pooled one, so
    an uninformative speaker distribution scores 0."""
    counts: dict[str, np.ndarray] = {}
    for speaker, frames in seen:
        counts.setdefault(speaker, np.zeros(alphabet))
        np.add.at(counts[speaker], frames, 1)
    pooled = sum(counts.values())
    p_pooled = (pooled + 0.5) / (pooled.sum() + 0.5 * alphabet)
    gains = []
    for weight in (0.25, 0.5, 0.75):
        pooled_nats = mixed_nats = frames_seen = 0.0
        for speaker, frames in held_out:
            p_speaker = (counts[speaker] + 0.5) / (counts[speaker].sum() + 0.5 * alphabet)
            pooled_nats -= np.log(p_pooled[frames]).sum()
            mixed_nats -= np.log(weight * p_speaker[frames] + (1 - weight) * p_pooled[frames]).sum()
            frames_seen += len(frames)
        gains.append((pooled_nats - mixed_nats) / frames_seen)
    return max(0.0, max(gains))


def test_audio_tokenizer_codes_carry_the_speakers_voice(demo: DemoAssets) -> None:
    """On sentences it was not fitted on, codebook 0 of a clip tells its speaker: the speaker's code
    distribution predicts it far better than the pooled one (measured 0.59 nats per frame; the
    random-weight tokenizer: 0.0), so a reference clip carries a voice the model can clone."""
    tokenizer = HiggsAudioV2TokenizerModel.from_pretrained(demo.audio_tokenizer_dir).eval()
    codes: dict[int, list[tuple[str, np.ndarray]]] = {0: [], 1: []}
    for index in range(12):
        for voice in VOICES:
            rng = np.random.default_rng([7, index])
            audio = synthesize(english_sentence(rng), voice, 24000, rng)
            with torch.no_grad():
                frames = tokenizer.encode(torch.from_numpy(audio)[None, None]).audio_codes[0].numpy()
            codes[index % 2].append((voice.speaker, frames))
    alphabet = CodecFitSettings().codes_used
    assert max(int(frames.max()) for half in codes.values() for _, frames in half) < alphabet
    codebook_0 = {half: [(speaker, frames[0]) for speaker, frames in clips] for half, clips in codes.items()}
    assert _speaker_gain(codebook_0[0], codebook_0[1], alphabet) > 0.3


def test_audio_tokenizer_folder_holds_the_feature_extractor(demo: DemoAssets) -> None:
    extractor = AutoFeatureExtractor.from_pretrained(demo.audio_tokenizer_dir)
    assert type(extractor).__name__ == "DacFeatureExtractor"
    assert (extractor.sampling_rate, extractor.hop_length) == (24000, 960)


def test_codec_fitting_names_what_it_cannot_fit() -> None:
    model = build_tiny_audio_tokenizer(TinyAudioTokenizerSettings())
    with pytest.raises(ValueError, match="no clips"):
        fit_codec(model, [], CodecFitSettings())
    with pytest.raises(ValueError, match="codes_used"):
        fit_codec(model, [np.zeros(24000, np.float32)], CodecFitSettings(codes_used=2048))


# --- torchaudio stand-in -------------------------------------------------------------------------

def test_standin_resample_matches_torchaudio_contract() -> None:
    rate_in, rate_out, length = 24000, 16000, 24001
    time_axis = np.arange(length) / rate_in
    sine = torch.from_numpy(np.sin(2 * np.pi * 440.0 * time_axis)).reshape(1, 1, -1).repeat(2, 1, 1)
    resampled = resample(sine, rate_in, rate_out)
    assert resampled.shape == (2, 1, math.ceil(length * rate_out / rate_in))
    assert resampled.dtype == torch.float64
    expected = np.sin(2 * np.pi * 440.0 * np.arange(resampled.shape[-1]) / rate_out)
    middle = slice(200, -200)  # away from the filter's edge transients
    assert np.abs(resampled[0, 0, middle].numpy() - expected[middle]).max() < 1e-3
    assert resample(sine.float(), rate_in, rate_out).dtype == torch.float32


def test_standin_repairs_an_earlier_import_of_transformers() -> None:
    """In a fresh interpreter: transformers imported first hands out a Placeholder until the install."""
    script = (
        "import torch, transformers\n"
        "from transformers import HiggsAudioV2TokenizerModel as Early\n"
        "from stratlog.trainer.torchaudio_standin import install_if_missing\n"
        "standin = install_if_missing()\n"
        "from transformers import HiggsAudioV2TokenizerModel, AutoConfig\n"
        "assert HiggsAudioV2TokenizerModel is not Early, 'placeholder kept'\n"
        "from stratlog.trainer.embedded.tiny_audio_tokenizer import TinyAudioTokenizerSettings, build_tiny_audio_tokenizer\n"
        "model = build_tiny_audio_tokenizer(TinyAudioTokenizerSettings())\n"
        "assert type(model).__mro__[0].__name__ == 'HiggsAudioV2TokenizerModel'\n"
        "codes = model.encode(torch.randn(1, 1, 24000) * 0.1).audio_codes\n"
        "print(standin, tuple(codes.shape))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    standin_installed, shape = result.stdout.split(maxsplit=1)
    assert shape.strip() == "(1, 8, 25)"
    assert standin_installed in ("True", "False")  # False only where a real torchaudio imports


# --- synthetic data set --------------------------------------------------------------------------

def test_train_json_has_the_chatml_shape(demo: DemoAssets, train_records: list[dict]) -> None:
    assert len(train_records) >= 240
    for record in train_records:
        system, user, assistant = record["messages"]
        assert system == {"role": "system", "content": "Speak in the voice heard in the reference clip."}
        ref_text, ref_audio, instruction = user["content"]
        target_text, target_audio = assistant["content"]
        misc = record["misc"]
        assert ref_text == {"type": "text", "text": misc["ref_transcript"]}
        assert instruction["text"] == (
            "Please generate speech for given text in reference audio's voice: " + misc["target_transcript"])
        assert target_text == {"type": "text", "text": misc["target_transcript"]}
        assert ref_audio.keys() == target_audio.keys() == {"type", "audio_url", "raw_audio", "duration", "offset"}
        assert target_audio["duration"] == misc["duration"]
        assert misc["ref_transcript"] != misc["target_transcript"]
        assert record["speaker"] == misc["sample_id"][:5] and record["start_index"] == 0
        for item in (ref_audio, target_audio):
            assert (demo.train_data_file.parent / item["audio_url"]).is_file()


def test_manifest_describes_the_same_samples(demo: DemoAssets, train_records: list[dict]) -> None:
    lines = demo.manifest_file.read_text(encoding="utf-8").splitlines()
    manifest = [json.loads(line) for line in lines]
    assert [m["sample_id"] for m in manifest] == [r["misc"]["sample_id"] for r in train_records]
    for entry, record in zip(manifest, train_records):
        assert entry["target_text"] == record["misc"]["target_transcript"]
        assert entry["ref_audio"] == record["messages"][1]["content"][1]["audio_url"]
        assert entry["language"] == record["misc"]["language"] and entry["speaker"] == record["speaker"]
        assert (demo.manifest_file.parent / entry["target_audio"]).is_file()
    speakers = json.loads((demo.manifest_file.parent / "speakers.json").read_text())
    assert len(speakers) >= 8 and {s["speaker"] for s in speakers} == {m["speaker"] for m in manifest}


def test_languages_lengths_and_sample_rates(demo: DemoAssets, train_records: list[dict]) -> None:
    languages = [r["misc"]["language"] for r in train_records]
    assert {"en", "es", "zh"} <= set(languages)
    assert all(3 <= len(r["misc"]["target_transcript"].split()) <= 8
               for r in train_records if r["misc"]["language"] != "zh")
    clips = sorted((demo.train_data_file.parent / "clips").glob("*.wav"))
    infos = [soundfile.info(clip) for clip in clips]
    assert all(info.subtype == "PCM_16" and info.channels == 1 for info in infos)
    assert all(MIN_CLIP_SECONDS <= info.duration <= MAX_CLIP_SECONDS for info in infos)
    other_rates = [info.samplerate for info in infos if info.samplerate != 24000]
    assert set(other_rates) == {16000, 22050, 44100}
    assert 0.08 <= len(other_rates) / len(infos) <= 0.12


def _pitch_and_timbre(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """Median autocorrelation pitch and spectral centroid below 4 kHz, over the clip's loud 40 ms frames.

    The centroid is taken below 4 kHz so that it measures the voiced timbre (formants, tilt)
    rather than how many fricatives the sentence happens to contain.
    """
    window, hop = int(0.04 * rate), int(0.01 * rate)
    frames = np.lib.stride_tricks.sliding_window_view(audio, window)[::hop]
    frames = frames[np.sqrt((frames**2).mean(axis=1)) > 0.05]
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * window)) ** 2)[:, :window]
    lowest, highest = int(rate / 400), int(rate / 70)
    lags = lowest + autocorrelation[:, lowest:highest].argmax(axis=1)
    power = (np.abs(np.fft.rfft(frames * np.hanning(window))) ** 2).mean(axis=0)
    frequencies = np.fft.rfftfreq(window, 1 / rate)
    band = frequencies < 4000
    centroid = (power[band] * frequencies[band]).sum() / power[band].sum()
    return float(np.median(rate / lags)), float(centroid)


def test_voice_identity_is_measurable(demo: DemoAssets, train_records: list[dict]) -> None:
    """Pitch alone names the speaker of a clip; timbre varies far more between speakers than within."""
    pitch: dict[str, list[float]] = {}
    timbre: dict[str, list[float]] = {}
    for record in train_records[::3]:
        audio, rate = soundfile.read(demo.train_data_file.parent / record["messages"][2]["content"][1]["audio_url"])
        f0, centroid = _pitch_and_timbre(audio, rate)
        pitch.setdefault(record["speaker"], []).append(math.log(f0))
        timbre.setdefault(record["speaker"], []).append(centroid)
    configured = {voice.speaker: voice.mean_f0_hz for voice in VOICES}
    mean_pitch = {speaker: float(np.mean(values)) for speaker, values in pitch.items()}
    for speaker, mean in mean_pitch.items():
        assert abs(math.exp(mean) / configured[speaker] - 1) < 0.06, speaker
    names = sorted(mean_pitch)
    centres = np.array([mean_pitch[name] for name in names])
    guesses = [(names[int(np.abs(centres - value).argmin())], speaker)
               for speaker, values in pitch.items() for value in values]
    assert np.mean([guess == speaker for guess, speaker in guesses]) >= 0.95
    between = np.var([np.mean(values) for values in timbre.values()])
    within = np.mean([np.var(values) for values in timbre.values()])
    assert between / within > 3


def test_audio_follows_the_transcript(train_records: list[dict]) -> None:
    """Longer transcripts make longer clips (before the fit into 1.0-2.2 s clips them)."""
    letters = [sum(c.isalpha() for c in r["misc"]["target_transcript"]) for r in train_records]
    durations = [r["misc"]["duration"] for r in train_records]
    assert np.corrcoef(letters, durations)[0, 1] > 0.5
