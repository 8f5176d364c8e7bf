"""One training example: the Higgs chat-template sequence for a zero-shot cloning sample.

The conversation is system / user reference transcript / assistant reference audio / user
target transcript / assistant target audio, rendered by the checkpoint's own chat template.
Each audio placeholder is then expanded the way `HiggsAudioV2Processor` does it: a clip of T
codec frames becomes T + 2 audio tokens (stream BOS and EOS) plus num_codebooks - 1 delay
tokens, and its codes get the multi-codebook delay pattern.

Labels deliberately differ from the processor's `output_labels=True` (see the notes):
the reference audio is masked (it is conditioning, not a target), only the stream BOS is
masked in the target audio (EOS is trained, or the model never learns to stop), and the delay
tokens are masked in the text labels along with audio placeholders, padding and audio BOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratlog.trainer.data.samples import VoiceCloningSample

IGNORE_INDEX = -100


def audio_vocabulary(codec_size: int) -> dict[str, int]:
    """The model config's audio vocabulary for a codec of `codec_size` codes: the codes, then the
    audio stream BOS (= codec_size) and EOS (= codec_size + 1), which live in the same embedding
    and head (so codebook_size = codec size + 2)."""
    return {"codebook_size": codec_size + 2, "audio_stream_bos_id": codec_size, "audio_stream_eos_id": codec_size + 1}


@dataclass(frozen=True)
class AudioTokenIds:
    """The token ids a Higgs checkpoint uses around audio, read from its config."""

    audio_token: int
    audio_bos_token: int
    audio_delay_token: int
    pad_token: int
    stream_bos: int
    stream_eos: int
    num_codebooks: int

    @classmethod
    def from_config(cls, config) -> "AudioTokenIds":
        return cls(
            audio_token=config.audio_token_id,
            audio_bos_token=config.audio_bos_token_id,
            audio_delay_token=config.audio_delay_token_id,
            pad_token=config.pad_token_id,
            stream_bos=config.audio_stream_bos_id,
            stream_eos=config.audio_stream_eos_id,
            num_codebooks=config.num_codebooks,
        )


@dataclass
class TrainingExample:
    """Token ids and labels of one sample; audio arrays are [audio_positions, num_codebooks]."""

    input_ids: np.ndarray
    labels: np.ndarray
    audio_input_ids: np.ndarray
    audio_labels: np.ndarray
    sample_id: str
    speaker: str
    language: str


def delay_pattern(codes: np.ndarray, ids: AudioTokenIds) -> np.ndarray:
    """[num_codebooks, T] codes -> [T + 2 + num_codebooks - 1, num_codebooks] delayed frames.

    Codebook k is shifted right by k steps: k extra BOS before its stream BOS, and
    num_codebooks - 1 - k extra EOS after its stream EOS.
    """
    num_codebooks, frames = codes.shape
    length = frames + 2 + num_codebooks - 1
    delayed = np.empty((num_codebooks, length), dtype=np.int64)
    for k in range(num_codebooks):
        delayed[k, : k + 1] = ids.stream_bos
        delayed[k, k + 1 : k + 1 + frames] = codes[k]
        delayed[k, k + 1 + frames :] = ids.stream_eos
    return delayed.T


def conversation_for(sample: VoiceCloningSample) -> list[dict]:
    """The 5-turn zero-shot conversation. Audio items are placeholders the template renders; each
    names its clip (templates ignore the extra key), so the conversation alone says which codes
    go where and `SequenceBuilder.build` keeps no second list of clips in turn order."""
    return [
        {"role": "system", "content": sample.system_prompt},
        {"role": "user", "content": sample.ref_text},
        {"role": "assistant", "content": [{"type": "audio", "clip": "reference"}]},
        {"role": "user", "content": sample.target_text},
        {"role": "assistant", "content": [{"type": "audio", "clip": "target"}]},
    ]


def audio_clips_of(conversation: list[dict]) -> list[str]:
    """The clip names of the conversation's audio items, in the order the template renders them."""
    return [item["clip"] for turn in conversation if isinstance(turn["content"], list)
            for item in turn["content"] if item["type"] == "audio"]


class SequenceBuilder:
    """Turns a sample and its two clips' codes into a `TrainingExample`."""

    def __init__(self, tokenizer, ids: AudioTokenIds):
        self.tokenizer = tokenizer
        self.ids = ids
        self._masked_text = {ids.audio_token, ids.audio_delay_token, ids.pad_token, ids.audio_bos_token}

    def build(self, sample: VoiceCloningSample, ref_codes: np.ndarray, target_codes: np.ndarray) -> TrainingExample:
        conversation = conversation_for(sample)
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False)
        template_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        placeholders = [i for i, token in enumerate(template_ids) if token == self.ids.audio_token]
        # (codes, is_target): the reference is conditioning, only the target is trained
        codes_of = {"reference": (ref_codes, False), "target": (target_codes, True)}
        clips = [codes_of[name] for name in audio_clips_of(conversation)]
        if len(placeholders) != len(clips):
            raise ValueError(
                f"chat template rendered {len(placeholders)} audio placeholders for sample "
                f"{sample.sample_id!r}, expected {len(clips)} (one per audio item of the conversation)"
            )
        input_ids: list[int] = []
        labels: list[int] = []
        audio_frames: list[np.ndarray] = []
        audio_labels: list[np.ndarray] = []
        cursor = 0
        for placeholder, (codes, is_target) in zip(placeholders, clips):
            for token in template_ids[cursor:placeholder]:
                input_ids.append(token)
                labels.append(self._text_label(token))
            frames = delay_pattern(codes.astype(np.int64), self.ids)
            audio_count = len(frames) - (self.ids.num_codebooks - 1)
            input_ids.extend([self.ids.audio_token] * audio_count + [self.ids.audio_delay_token] * (self.ids.num_codebooks - 1))
            labels.extend([IGNORE_INDEX] * len(frames))
            audio_frames.append(frames)
            audio_labels.append(self._audio_labels(frames) if is_target else np.full_like(frames, IGNORE_INDEX))
            cursor = placeholder + 1
        for token in template_ids[cursor:]:
            input_ids.append(token)
            labels.append(self._text_label(token))
        return TrainingExample(
            input_ids=np.asarray(input_ids, dtype=np.int64),
            labels=np.asarray(labels, dtype=np.int64),
            audio_input_ids=np.concatenate(audio_frames),
            audio_labels=np.concatenate(audio_labels),
            sample_id=sample.sample_id,
            speaker=sample.speaker,
            language=sample.language,
        )

    def _text_label(self, token: int) -> int:
        return IGNORE_INDEX if token in self._masked_text else token

    def _audio_labels(self, frames: np.ndarray) -> np.ndarray:
        labels = frames.copy()
        labels[labels == self.ids.stream_bos] = IGNORE_INDEX
        return labels
