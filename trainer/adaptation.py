"""Which weights train: freeze options and LoRA (through peft), applied after loading.

Four freeze switches follow the model's own parts, so each says plainly what stops learning:
the text FFN path (`mlp` + its norms, used at text positions), the audio FFN path (`audio_mlp`
+ its norms, used at audio positions), the embeddings (text and audio codebooks) and the text
head. LoRA (rank > 0) adds adapters to the attention projections and to both FFN paths and
freezes everything else, the heads included, as peft does; freeze switches then change nothing.

Frozen parameters never reach DDP's gradient reduction, so freezing is compatible with
`ddp_find_unused_parameters=False` (see `train_v2_ddp.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

LORA_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""Attention projections and the gate/up/down projections, which both `mlp` and `audio_mlp` have."""

FREEZE_GROUPS = {
    "freeze_text_ffn": (".mlp.", ".post_attention_layernorm.", ".input_layernorm."),
    "freeze_audio_ffn": (".audio_mlp.", ".audio_post_attention_layernorm.", ".audio_input_layernorm."),
    "freeze_embeddings": ("model.embed_tokens.", "model.embed_audio_tokens."),
    "freeze_text_head": ("text_lm_head.",),
}
"""Flag -> parameter-name fragments it freezes (names as in HiggsAudioV2ForConditionalGeneration)."""


@dataclass
class AdaptationArguments:
    lora_rank: int = field(default=0, metadata={"help": "LoRA rank on attention + both FFN paths (0 = off: full fine-tuning)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha (the update is scaled by alpha / rank)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input, 0-1."})
    freeze_text_ffn: bool = field(default=False, metadata={"help": "Freeze the text FFN path (mlp and its layer norms)."})
    freeze_audio_ffn: bool = field(default=False, metadata={"help": "Freeze the audio FFN path (audio_mlp and its layer norms)."})
    freeze_embeddings: bool = field(default=False, metadata={"help": "Freeze the text and audio-codebook embeddings."})
    freeze_text_head: bool = field(default=False, metadata={"help": "Freeze the text LM head."})

    def __post_init__(self):
        if self.lora_rank < 0:
            raise ValueError(f"--lora_rank must be >= 0, got {self.lora_rank}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"--lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.lora_rank and any(getattr(self, name) for name in FREEZE_GROUPS):
            raise ValueError("--lora_rank > 0 freezes every base weight already; drop the --freeze_* flags")


def adapt_model(model: nn.Module, args: AdaptationArguments) -> nn.Module:
    """Returns the model to train: the same one with parts frozen, or a peft LoRA wrapper."""
    if args.lora_rank:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                            target_modules=LORA_TARGET_MODULES)
        return get_peft_model(model, config)
    fragments = tuple(fragment for name, group in FREEZE_GROUPS.items() if getattr(args, name) for fragment in group)
    for name, parameter in model.named_parameters():
        if any(fragment in name for fragment in fragments):
            parameter.requires_grad_(False)
    return model


def trainable_summary(model: nn.Module) -> str:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f} %)"
