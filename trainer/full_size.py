"""A full-size (3B base shape) Higgs Audio v2 checkpoint with random weights, for GPU runs
where no weights can be downloaded:

    python -m stratlog.trainer.full_size OUT_DIR --tokenizer_from MODEL_DIR --audio_tokenizer_path A [--device cuda]

The shape is transformers' default `HiggsAudioV2Config` (hidden 3072, 28 layers, 128 256
vocabulary; 5.77 B parameters with the text head). Two things are taken from real parts instead
of the defaults, because the defaults do not fit them: the special-token ids come from the text
tokenizer (so the chat template's `<|AUDIO_OUT|>` is the model's audio token) and the codebook
size is the audio tokenizer's codec size + 2 (stream BOS and EOS live in the embedding; the
default 1024 would put them out of range). Weights are stored in bf16, as real checkpoints are;
the folder then trains exactly like a real checkpoint (`--model_path OUT_DIR`): fp32 master
weights by default (`HiggsVoiceCloningModel.for_training`), bf16 ones with `--pure_bf16`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer, HiggsAudioV2Config

from stratlog.protocol.higgs_tokens import AUDIO_OUT, AUDIO_OUT_BOS, BEGIN_OF_TEXT, END_OF_TURN
from stratlog.trainer.data.sequences import audio_vocabulary
from stratlog.trainer.model import HiggsVoiceCloningModel

TOKEN_ID_FIELDS = {
    "audio_token_id": AUDIO_OUT,
    "audio_bos_token_id": AUDIO_OUT_BOS,
    "bos_token_id": BEGIN_OF_TEXT,
    "eos_token_id": END_OF_TURN,
}
"""Config field -> the special token it must name, looked up in the text tokenizer."""


def full_size_config(tokenizer_dir: Path, audio_tokenizer_dir: Path, **overrides) -> HiggsAudioV2Config:
    """The default 3B shape with token ids and codebook size made consistent with real tokenizers;
    `overrides` (e.g. a smaller shape in tests) go to the config as they are."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    codec = AutoConfig.from_pretrained(audio_tokenizer_dir)
    reference = AutoConfig.from_pretrained(tokenizer_dir) if (Path(tokenizer_dir) / "config.json").is_file() else None
    ids = {}
    for name, token in TOKEN_ID_FIELDS.items():
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == tokenizer.unk_token_id:
            raise ValueError(f"text tokenizer in {tokenizer_dir} has no {token} token (needed for {name})")
        ids[name] = token_id
    for name in ("audio_delay_token_id", "pad_token_id"):  # no fixed token name: take the checkpoint's choice
        if reference is None:
            raise ValueError(f"{tokenizer_dir} has no config.json to take {name} from")
        ids[name] = getattr(reference, name)
    settings = {"vocab_size": max(HiggsAudioV2Config().vocab_size, len(tokenizer)), **overrides}
    if settings["vocab_size"] < len(tokenizer):
        raise ValueError(f"vocab_size {settings['vocab_size']} is smaller than the text tokenizer ({len(tokenizer)} tokens)")
    return HiggsAudioV2Config(
        **ids,
        num_codebooks=codec.num_quantizers,
        **audio_vocabulary(codec.codebook_size),
        **settings,
    )


def write_random_checkpoint(config: HiggsAudioV2Config, tokenizer_dir: Path, output_dir: Path, *,
                            device: str = "cpu", dtype: torch.dtype = torch.bfloat16) -> None:
    """Random weights with the text head, saved with the text tokenizer beside them."""
    torch.manual_seed(0)  # the same random checkpoint every time
    with torch.device(device):
        model = HiggsVoiceCloningModel(config, use_text_head=True).to(dtype)
    model.save_pretrained(output_dir)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(output_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratlog.trainer.full_size", description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--tokenizer_from", type=Path, required=True, help="Checkpoint folder whose text tokenizer (and delay/pad ids) to use.")
    parser.add_argument("--audio_tokenizer_path", type=Path, required=True, help="HiggsAudioV2TokenizerModel folder (codec size, codebooks).")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="Where to initialise (cuda is much faster).")
    args = parser.parse_args(argv)
    config = full_size_config(args.tokenizer_from, args.audio_tokenizer_path)
    write_random_checkpoint(config, args.tokenizer_from, args.output_dir, device=args.device)
    print(f"full-size random checkpoint (hidden {config.hidden_size}, {config.num_hidden_layers} layers) in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
