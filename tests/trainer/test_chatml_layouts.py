"""Both ChatML layouts Higgs data comes in, on records shaped exactly like the originals: the
original pipeline's 3 messages (SPEC §3's sample) and Higgs's own 5-turn voice-cloning layout;
`start_index`; the target-text fallback; a sequence longer than max_position_embeddings.

Run: `python -m pytest -q tests/trainer/test_chatml_layouts.py` (a few seconds; no audio is read:
parsing needs none and the sequences get fixed codes).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import AutoConfig, AutoTokenizer

from stratlog.trainer.data.samples import SampleError, load_samples
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, SequenceBuilder

SYSTEM = "Speak in the voice heard in the reference clip."
REF_TEXT, TARGET_TEXT = "The river was calm that morning.", "Bring the lantern up the hill."


def audio_item(url: str, duration=None) -> dict:
    return {"type": "audio", "audio_url": url, "raw_audio": "", "duration": duration, "offset": None}


def three_messages(start_index=0, instruction=f"Please generate speech for given text in reference audio's voice: {TARGET_TEXT}",
                   misc_transcripts=True) -> dict:
    """SPEC §3's sample, as the original pipeline wrote them."""
    misc = {"sample_id": "spk07_0001", "duration": 2.4, "language": "en"}
    if misc_transcripts:
        misc.update(ref_transcript=REF_TEXT, target_transcript=TARGET_TEXT)
    return {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": REF_TEXT}, audio_item("clips/spk07_ref.wav"),
                                     {"type": "text", "text": instruction}]},
        {"role": "assistant", "content": [{"type": "text", "text": TARGET_TEXT}, audio_item("clips/spk07_tgt.wav", 2.4)]}],
        "start_index": start_index, "speaker": "spk07", "misc": misc}


def five_turns(start_index=None) -> dict:
    """Higgs's voice-cloning conversation: the reference clip is an earlier assistant answer."""
    return {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": REF_TEXT}]},
        {"role": "assistant", "content": [audio_item("clips/spk07_ref.wav")]},
        {"role": "user", "content": [{"type": "text", "text": TARGET_TEXT}]},
        {"role": "assistant", "content": [audio_item("clips/spk07_tgt.wav", 2.4)]}],
        "start_index": start_index, "speaker": "spk07", "misc": {"sample_id": "spk07_0001", "language": "en"}}


def parse(tmp_path, *records):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(list(records)), encoding="utf-8")
    return load_samples(path)


@pytest.fixture(scope="module")
def builder(demo_assets):
    return SequenceBuilder(AutoTokenizer.from_pretrained(demo_assets.model_dir),
                           AudioTokenIds.from_config(AutoConfig.from_pretrained(demo_assets.model_dir)))


def build(builder, sample):
    codes = np.arange(8 * 3, dtype=np.int16).reshape(8, 3)
    return builder.build(sample, codes, codes)


def labelled_tokens(builder, example) -> list[str]:
    return builder.tokenizer.convert_ids_to_tokens(example.labels[example.labels != IGNORE_INDEX].tolist())


def test_three_message_layout(tmp_path, builder):
    parsed = parse(tmp_path, three_messages())
    assert not parsed.errors
    sample = parsed.samples[0]
    assert (sample.sample_id, sample.speaker, sample.language, sample.system_prompt) == ("spk07_0001", "spk07", "en", SYSTEM)
    assert (sample.ref_text, sample.target_text) == (REF_TEXT, TARGET_TEXT)
    assert (sample.ref_audio.path.name, sample.target_audio.path.name, sample.target_audio.duration) == ("spk07_ref.wav", "spk07_tgt.wav", 2.4)
    assert not sample.label_reference_turn  # the reference is user input in this layout, never an assistant turn
    assert labelled_tokens(builder, build(builder, sample)) == ["<|audio_out_bos|>", "<|audio_eos|>", "<|eot_id|>"]


@pytest.mark.parametrize("start_index, reference_trained", [(None, True), (0, True), (2, True), (3, False), (4, False)])
def test_five_turn_layout_and_start_index(tmp_path, builder, start_index, reference_trained):
    parsed = parse(tmp_path, five_turns(start_index))
    assert not parsed.errors, parsed.errors
    sample = parsed.samples[0]
    assert (sample.ref_text, sample.target_text, sample.system_prompt) == (REF_TEXT, TARGET_TEXT, SYSTEM)
    assert (sample.ref_audio.path.name, sample.target_audio.path.name) == ("spk07_ref.wav", "spk07_tgt.wav")
    assert sample.label_reference_turn == reference_trained
    turn = ["<|audio_out_bos|>", "<|audio_eos|>", "<|eot_id|>"]
    assert labelled_tokens(builder, build(builder, sample)) == turn * (2 if reference_trained else 1)


def test_both_layouts_give_the_same_sequence(tmp_path, builder):
    three, five = parse(tmp_path, three_messages(), five_turns(start_index=4)).samples
    assert build(builder, three).input_ids.tolist() == build(builder, five).input_ids.tolist()
    assert build(builder, three).labels.tolist() == build(builder, five).labels.tolist()


def test_start_index_past_the_target_turn_is_a_bad_sample(tmp_path):
    parsed = parse(tmp_path, five_turns(start_index=5), three_messages(start_index=3))
    assert not parsed.samples and len(parsed.errors) == 2
    assert all("start_index" in str(error) and "spk07_0001" in str(error) for error in parsed.errors)


def test_target_text_fallback_keeps_colons_inside_the_text(tmp_path):
    instruction = "Please generate speech for given text in reference audio's voice: Note: at 10:30 we leave."
    record = three_messages(instruction=instruction, misc_transcripts=False)
    record["messages"][2]["content"] = [audio_item("clips/spk07_tgt.wav")]  # no assistant text either
    sample = parse(tmp_path, record).samples[0]
    assert sample.target_text == "Note: at 10:30 we leave." and sample.ref_text == REF_TEXT


def test_a_sequence_past_max_position_embeddings_is_a_bad_sample(builder, tmp_path):
    sample = parse(tmp_path, three_messages()).samples[0]
    length = len(build(builder, sample).input_ids)
    limited = SequenceBuilder(builder.tokenizer, builder.ids, max_length=length - 1)
    with pytest.raises(SampleError, match=f"{length} tokens .* max_position_embeddings \\({length - 1}\\)") as raised:
        build(limited, sample)
    assert raised.value.sample_id == "spk07_0001"
    assert len(build(SequenceBuilder(builder.tokenizer, builder.ids, max_length=length), sample).input_ids) == length
