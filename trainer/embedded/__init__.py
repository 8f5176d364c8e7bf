"""The embedded default: a tiny Higgs Audio v2 checkpoint, tokenizers and synthetic voices, built offline.

Nothing can be downloaded on the machines this project runs on, so the demo builds everything it
needs itself, deterministically, into a versioned cache folder, and then loads it back through the
same `from_pretrained` / file-reading code a user's real checkpoint and data go through. Modules:
`text_tokenizer` (byte-level BPE + Higgs special tokens + chat template), `tiny_audio_tokenizer`
(fitted by `codec_fitting` so that its codes keep the voice),
`tiny_model`, `synthetic_voices` (formant speech with measurable voices), `demo_dataset` (ChatML JSON,
JSONL manifest, WAV clips) and `prepare` (the cached, idempotent build).
"""

from stratlog.trainer.embedded.prepare import DemoAssets, prepare_demo

__all__ = ["DemoAssets", "prepare_demo"]
