"""Deterministic example messages of every kind, small or full-size.

One source of realistic messages for the protocol's tests, its benchmark, the worked example in
PROTOCOL.md, and for tests of the code above the protocol (sink, dashboard) that need frames
without a training run. Full size means the shapes of the 3B Higgs Audio v2 model at 2 048
tokens: 8 codebooks, 28 layers x 24 heads of attention statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratlog.protocol.arrays import Array
from stratlog.protocol.events import ErrorEvent, Heartbeat, Metrics, RunEnd, RunStart
from stratlog.protocol.messages import Message
from stratlog.protocol.snapshots import (
    AttentionSnapshot,
    AudioSegment,
    InputSnapshot,
    OutputSnapshot,
    TensorInfo,
    ZeroShotSnapshot,
)


@dataclass(frozen=True)
class ExampleShape:
    """Sizes of the example snapshots."""

    tokens: int = 2048
    batch: int = 2
    codebooks: int = 8
    layers: int = 28
    heads: int = 24
    histogram_bins: int = 10


FULL_SIZE = ExampleShape()
SMALL = ExampleShape(tokens=48, batch=2, codebooks=2, layers=2, heads=2, histogram_bins=4)


def _f32(rng: np.random.Generator, *shape: int) -> Array:
    return Array.from_numpy(rng.random(shape, dtype=np.float32))


def _ids(rng: np.random.Generator, high: int, *shape: int) -> Array:
    return Array.from_numpy(rng.integers(0, high, shape, dtype=np.int32))


def example_snapshots(shape: ExampleShape = FULL_SIZE, *, seed: int = 0, **envelope) -> list[Message]:
    """The four snapshots of one capture step; ``envelope`` overrides run_id, rank, step, ..."""
    rng = np.random.default_rng(seed)
    head = {"run_id": "example", "rank": 0, "world_size": 1, "seq": 2, "step": 100, "time": 1.7e9}
    head.update(envelope)
    shown = min(20, shape.tokens // 4)
    frames = shape.tokens // 4
    span = frames // 2
    samples = [f"spk{i:02d}_{i:04d}" for i in range(shape.batch)]
    speakers = [f"spk{i:02d}" for i in range(shape.batch)]
    languages = ["en" if i % 2 == 0 else "zh" for i in range(shape.batch)]
    text_labels = rng.integers(0, 128_000, shown, dtype=np.int32)
    text_predictions = np.where(rng.random(shown) < 0.7, text_labels, text_labels + 1).astype(np.int32)
    return [
        InputSnapshot(
            **head,
            tensors=[
                TensorInfo(name="input_ids", shape=[shape.batch, shape.tokens], dtype="int64"),
                TensorInfo(name="audio_ids", shape=[shape.codebooks, 2 * frames], dtype="int64"),
            ],
            input_ids=_ids(rng, 128_000, shape.tokens),
            segments=[
                # A clip of T frames takes T + 2 + (codebooks - 1) positions (BOS, EOS, delay).
                AudioSegment(
                    sample=s,
                    role=role,
                    start=start,
                    end=start + span,
                    frames=max(0, span - 1 - shape.codebooks),
                    repeated_code_share=0.15,
                )
                for s in range(shape.batch)
                for role, start in (("reference", shape.tokens // 8), ("target", shape.tokens // 2))
            ],
            sample_ids=samples,
            speakers=speakers,
            languages=languages,
        ),
        OutputSnapshot(
            **head,
            text_loss=2.5,
            audio_loss=5.25,
            text_accuracy=0.4,
            audio_accuracy=0.12,
            codebook_losses=_f32(rng, shape.codebooks),
            codebook_accuracies=_f32(rng, shape.codebooks),
            text_label_count=shown,
            text_positions=Array.from_numpy(np.arange(shown, dtype=np.int32) + shape.tokens // 4),
            text_labels=Array.from_numpy(text_labels),
            text_predictions=Array.from_numpy(text_predictions),
            text_match=Array.from_numpy(text_labels == text_predictions),
            target_text_ids=Array.from_numpy(text_labels),
            predicted_text_ids=Array.from_numpy(text_predictions),
            audio_frame_count=frames,
            audio_frames=Array.from_numpy(np.arange(min(20, frames), dtype=np.int32)),
            audio_labels=_ids(rng, 1024, shape.codebooks, min(20, frames)),
            audio_predictions=_ids(rng, 1024, shape.codebooks, min(20, frames)),
        ),
        AttentionSnapshot(
            **head,
            layers=list(range(shape.layers)),
            heads=list(range(shape.heads)),
            text_to_audio=_f32(rng, shape.layers, shape.heads),
            audio_to_text=_f32(rng, shape.layers, shape.heads),
            target_to_reference=_f32(rng, shape.layers, shape.heads),
            entropy=_f32(rng, shape.layers, shape.heads),
            max_weight=_f32(rng, shape.layers, shape.heads),
            max_weight_histogram=_ids(rng, shape.tokens, shape.layers, shape.heads, shape.histogram_bins),
            ffn_layers=list(range(shape.layers)),
            text_ffn_grad_norm=_f32(rng, shape.layers),
            audio_ffn_grad_norm=_f32(rng, shape.layers),
            text_ffn_update_ratio=_f32(rng, shape.layers),
            audio_ffn_update_ratio=_f32(rng, shape.layers),
        ),
        ZeroShotSnapshot(
            **head,
            sample_ids=samples,
            speakers=speakers,
            swapped_speakers=speakers[1:] + speakers[:1],
            languages=languages,
            swapped_languages=languages[1:] + languages[:1],
            true_reference_loss=_f32(rng, shape.batch),
            swapped_reference_loss=_f32(rng, shape.batch),
            target_to_reference_attention=_f32(rng, shape.batch),
        ),
    ]


def example_messages(shape: ExampleShape = SMALL, *, seed: int = 0, **envelope) -> list[Message]:
    """One message of every kind, in the order a rank sends them (``seq`` 0, 1, 2, ...)."""
    head = {"run_id": "example", "rank": 0, "world_size": 1, "step": 100, "time": 1.7e9}
    head.update(envelope)
    start = RunStart(
        **{**head, "step": 0},
        seq=0,
        model_path="checkpoints/tiny-higgs",
        tokenizer_path="checkpoints/tiny-higgs",
        audio_tokenizer_path="checkpoints/tiny-higgs-audio-tokenizer",
        model_config={
            "hidden_size": 64,
            "num_hidden_layers": shape.layers,
            "rope_scaling": None,
            "audio_dual_ffn_layers": list(range(shape.layers)),
            "text_config": {"vocab_size": 512},
        },
        training_args={"learning_rate": 1e-4, "per_device_train_batch_size": shape.batch, "bf16": False},
        hostname="trainer-0",
        pid=4242,
        capture_interval=100,
        capture_ranks=[],
    )
    metrics = Metrics(**head, seq=1, values={"loss": 7.75, "learning_rate": 1e-4, "grad_norm": 1.5})
    snapshots = example_snapshots(shape, seed=seed, **{**head, "seq": 2})
    for offset, snapshot in enumerate(snapshots):
        snapshot.seq = 2 + offset
    tail = len(snapshots) + 2
    return [
        start,
        metrics,
        *snapshots,
        ErrorEvent(
            **head,
            seq=tail,
            where="capture.attention",
            error_type="RuntimeError",
            message="CUDA out of memory",
            count=1,
        ),
        Heartbeat(**head, seq=tail + 1, queue_depth=0),
        RunEnd(**head, seq=tail + 2, status="completed", messages_sent=tail + 2, messages_dropped=0),
    ]
