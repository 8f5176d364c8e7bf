"""Hand-built, healthy snapshots for the sink's tests; each test breaks one thing on purpose.

Token ids follow the embedded tiny checkpoint's layout (specials first, text above 30), with
8 codebooks and a 1024-code codec, so the expected verdicts can be worked out by hand.
"""

from __future__ import annotations

import numpy as np

from stratlog.protocol import (
    Array,
    AttentionSnapshot,
    AudioSegment,
    InputSnapshot,
    Metrics,
    OutputSnapshot,
    RunStart,
    TensorInfo,
    ZeroShotSnapshot,
)
from stratlog.sink.analysis.run_context import RunContext, SpecialTokenIds

CODEBOOKS = 8
CODEC_SIZE = 1024
STREAM_EOS = CODEC_SIZE + 1
TOKENS = SpecialTokenIds(begin_of_text=0, start_header=2, end_header=3, end_of_turn=4, audio_in=5, audio_in_bos=6,
                         audio_out=7, audio_out_bos=8, audio_eos=9, audio_delay=18, padding=frozenset({1}))
MODEL_CONFIG = {"num_codebooks": CODEBOOKS, "codebook_size": CODEC_SIZE + 2, "audio_stream_eos_id": STREAM_EOS,
                "audio_delay_token_id": 18, "pad_token_id": 1}
TRAINING_ARGS = {"learning_rate": 2e-3, "warmup_steps": 5, "max_steps": 100, "lr_scheduler_type": "cosine"}


def envelope(**overrides) -> dict:
    head = {"run_id": "run", "rank": 0, "world_size": 2, "seq": 1, "step": 10, "time": 1_700_000_000.0}
    head.update(overrides)
    return head


ENVELOPE_KEYS = set(envelope())


def context(capture_interval: int | None = None) -> RunContext:
    """`capture_interval`: the run start's (None: no run start, graces judged on steps alone)."""
    return RunContext(run_id="run", model_config=dict(MODEL_CONFIG),
                      training_args=dict(TRAINING_ARGS), tokens=TOKENS, capture_interval=capture_interval)


def run_start(**overrides) -> RunStart:
    return RunStart(**envelope(**{"seq": 0, "step": 0, **overrides}), model_path="m", tokenizer_path="",
                    audio_tokenizer_path="a", model_config=dict(MODEL_CONFIG), training_args=dict(TRAINING_ARGS),
                    hostname="host", pid=1, capture_interval=10, capture_ranks=[], heartbeat_interval_s=2.0)


def metrics(step: int, **values) -> Metrics:
    return Metrics(**envelope(step=step, seq=step), values=values)


def audio_run(frames: int) -> list[int]:
    """<|audio_out_bos|> AUDIO_OUT x(T+2) delay x(C-1) <|audio_eos|>"""
    return [TOKENS.audio_out_bos] + [TOKENS.audio_out] * (frames + 2) + [TOKENS.audio_delay] * (CODEBOOKS - 1) + [TOKENS.audio_eos]


def turn(role_id: int, body: list[int]) -> list[int]:
    return [TOKENS.start_header, role_id, TOKENS.end_header, *body, TOKENS.end_of_turn]


def healthy_ids(reference_frames: int = 5, target_frames: int = 6) -> list[int]:
    return ([TOKENS.begin_of_text] + turn(30, [40, 41]) + turn(31, [42, 43]) + turn(32, audio_run(reference_frames))
            + turn(31, [44, 45]) + turn(32, audio_run(target_frames)) + [1, 1])


def segments_of(ids: list[int], sample: int = 0) -> list[AudioSegment]:
    array = np.asarray(ids)
    audio = np.isin(array, [TOKENS.audio_out, TOKENS.audio_delay]).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], audio, [0]))))
    return [AudioSegment(sample=sample, role=role, start=int(start), end=int(end), frames=int(end - start) - 2 - (CODEBOOKS - 1))
            for role, start, end in zip(("reference", "target"), edges[::2], edges[1::2])]


def input_snapshot(ids: list[int] | None = None, segments: list[AudioSegment] | None = None, **overrides) -> InputSnapshot:
    ids = healthy_ids() if ids is None else ids
    fields = dict(
        tensors=[TensorInfo(name="input_ids", shape=[2, len(ids)], dtype="int64")],
        input_ids=Array.from_numpy(np.asarray(ids, dtype=np.int32)),
        segments=segments_of(ids) + segments_of(ids, sample=1) if segments is None else segments,
        sample_ids=["spk00_0001", "spk01_0002"], speakers=["spk00", "spk01"], languages=["en", "es"],
    )
    return _build(InputSnapshot, fields, overrides)


def _build(message_class, fields: dict, overrides: dict):
    """Overrides may name envelope fields (step, rank, ...) or the kind's own fields."""
    head = envelope(**{key: value for key, value in overrides.items() if key in ENVELOPE_KEYS})
    return message_class(**head, **{**fields, **{k: v for k, v in overrides.items() if k not in ENVELOPE_KEYS}})


def _int(values) -> Array:
    return Array.from_numpy(np.asarray(values, dtype=np.int32))


def _float(values) -> Array:
    return Array.from_numpy(np.asarray(values, dtype=np.float32))


def output_snapshot(text_accuracy: float = 0.5, codebook_accuracy: float = 0.2, labels=None, predictions=None,
                    audio_labels=None, **overrides) -> OutputSnapshot:
    labels = np.arange(100, 120) if labels is None else np.asarray(labels)
    predictions = np.where(np.arange(20) % 2 == 0, labels, labels + 500) if predictions is None else np.asarray(predictions)
    positions = np.concatenate([np.arange(10, 20), np.arange(40, 50)])[: len(labels)]
    if audio_labels is None:
        audio_labels = np.tile(np.arange(20), (CODEBOOKS, 1))
        audio_labels[:, -CODEBOOKS:] = STREAM_EOS
    fields = dict(
        text_loss=2.0, audio_loss=5.0, text_accuracy=text_accuracy, audio_accuracy=codebook_accuracy,
        codebook_losses=_float([5.0] * CODEBOOKS), codebook_accuracies=_float([codebook_accuracy] * CODEBOOKS),
        text_label_count=40, text_positions=_int(positions), text_labels=_int(labels), text_predictions=_int(predictions),
        text_match=Array.from_numpy(labels == predictions), target_text_ids=_int(labels),
        predicted_text_ids=_int(predictions), audio_frame_count=60,
        audio_frames=_int(np.concatenate([np.arange(10), np.arange(50, 60)])), audio_labels=_int(audio_labels),
        audio_predictions=_int(audio_labels),
    )
    return _build(OutputSnapshot, fields, overrides)


def attention_snapshot(layers: int = 2, heads: int = 4, **overrides) -> AttentionSnapshot:
    shape = (layers, heads)
    fields = dict(
        layers=list(range(layers)), heads=list(range(heads)),
        text_to_audio=_float(np.full(shape, 0.2)), audio_to_text=_float(np.full(shape, 0.3)),
        target_to_reference=_float(np.full(shape, 0.15)), entropy=_float(np.full(shape, 1.0)),
        max_weight=_float(np.full(shape, 0.6)), max_weight_histogram=_int(np.ones((*shape, 4))),
        ffn_layers=list(range(layers)), text_ffn_grad_norm=_float([0.5] * layers), audio_ffn_grad_norm=_float([0.7] * layers),
        text_ffn_update_ratio=_float([1e-3] * layers), audio_ffn_update_ratio=_float([2e-3] * layers),
    )
    return _build(AttentionSnapshot, fields, overrides)


def zero_shot_snapshot(effect=0.3, true_loss=5.0, **overrides) -> ZeroShotSnapshot:
    effects = np.broadcast_to(np.asarray(effect, dtype=float), (4,))
    true = np.full(4, float(true_loss))
    fields = dict(
        sample_ids=[f"s{i}" for i in range(4)], speakers=["spk00", "spk01", "spk02", "spk03"],
        swapped_speakers=["spk01", "spk02", "spk03", "spk00"], languages=["en", "en", "es", "es"],
        swapped_languages=["en", "es", "es", "en"], true_reference_loss=_float(true),
        swapped_reference_loss=_float(true + effects), target_to_reference_attention=_float([0.2] * 4),
    )
    return _build(ZeroShotSnapshot, fields, overrides)
