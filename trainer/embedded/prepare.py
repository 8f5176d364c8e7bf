"""Build the embedded default once into a versioned cache folder, and find it again.

`prepare_demo()` is what the demo and the tests call. The first call builds, offline and
deterministically (about 50 s on 2 cores, most of it fitting the audio tokenizer): the synthetic data set, the BPE text tokenizer trained
on its transcripts, the tiny audio tokenizer and the tiny model, each saved the way a user's real
checkpoint and data are, so the demo reads them back through the same `from_pretrained` and file
loading code. Later calls find the stamp file and return at once.

The stamp is written last: a build interrupted half-way has no stamp and is wiped and rebuilt. An
exclusive file lock serialises builders (two training ranks starting together build once). Bump
DEMO_VERSION whenever the built bytes change, so stale caches are never reused.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stratlog.trainer.data.audio_codes import default_cache_dir
from stratlog.trainer.embedded.demo_dataset import (
    MANIFEST_FILE_NAME,
    TRAIN_DATA_FILE_NAME,
    codec_fitting_clips,
    plan_samples,
    transcripts,
    write_dataset,
)
from stratlog.trainer.embedded.text_tokenizer import train_text_tokenizer
from stratlog.trainer.embedded.tiny_audio_tokenizer import TinyAudioTokenizerSettings, save_tiny_audio_tokenizer
from stratlog.trainer.embedded.tiny_model import TinyModelSettings, save_tiny_model

DEMO_VERSION = "demo-v2"
STAMP_FILE = "BUILD_COMPLETE.json"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoAssets:
    """Where a completed demo build lives; every path exists once `prepare_demo` returns."""

    root: Path
    """The versioned build folder, e.g. ~/.cache/stratlog/demo-v2."""
    model_dir: Path
    """Tiny HiggsAudioV2 checkpoint with its text tokenizer: `from_pretrained(model_dir, use_text_head=True)`."""
    audio_tokenizer_dir: Path
    """Tiny HiggsAudioV2TokenizerModel plus its DacFeatureExtractor."""
    train_data_file: Path
    """ChatML JSON array; audio paths relative to this file."""
    manifest_file: Path
    """The same samples as flat JSONL records; audio paths relative to this file."""

    @classmethod
    def under(cls, root: Path) -> DemoAssets:
        return cls(
            root=root,
            model_dir=root / "model",
            audio_tokenizer_dir=root / "audio_tokenizer",
            train_data_file=root / "data" / TRAIN_DATA_FILE_NAME,
            manifest_file=root / "data" / MANIFEST_FILE_NAME,
        )


def prepare_demo(cache_dir: Path | None = None, *, force: bool = False) -> DemoAssets:
    """Return the demo assets under `cache_dir`/DEMO_VERSION, building them first if needed.

    `force=True` rebuilds even when a completed build exists.
    """
    assets = DemoAssets.under(Path(cache_dir if cache_dir is not None else default_cache_dir()) / DEMO_VERSION)
    if not force and _is_complete(assets):
        return assets
    assets.root.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(assets.root.parent / f"{DEMO_VERSION}.lock"):
        if not force and _is_complete(assets):  # another process finished it while we waited
            return assets
        if assets.root.exists():
            shutil.rmtree(assets.root)
        logger.info("building the embedded demo into %s", assets.root)
        _build(assets)
        (assets.root / STAMP_FILE).write_text(json.dumps({"version": DEMO_VERSION}) + "\n", encoding="utf-8")
    return assets


def _is_complete(assets: DemoAssets) -> bool:
    return (assets.root / STAMP_FILE).is_file()


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _build(assets: DemoAssets) -> None:
    samples = plan_samples()
    write_dataset(samples, assets.train_data_file.parent)
    tokenizer = train_text_tokenizer(transcripts(samples))
    audio_tokenizer = save_tiny_audio_tokenizer(TinyAudioTokenizerSettings(), codec_fitting_clips(),
                                                assets.audio_tokenizer_dir)
    save_tiny_model(
        TinyModelSettings(),
        tokenizer,
        num_codebooks=audio_tokenizer.config.num_quantizers,
        codec_size=audio_tokenizer.config.codebook_size,
        directory=assets.model_dir,
    )
