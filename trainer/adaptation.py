"""Which weights train: freeze options and LoRA (through peft), applied after loading.

Our four freeze switches follow the model's own parts, so each says plainly what stops learning:
the text FFN path (`mlp` + its norms, used at text positions), the audio FFN path (`audio_mlp`
+ its norms, used at audio positions), the embeddings (text and audio codebooks) and the text
head. The original training script's switches (--freeze_audio_tower, --freeze_audio_encoder_proj,
--freeze_llm) are accepted too, each mapped to the nearest part of transformers' HiggsAudioV2,
which has no Whisper audio tower and no audio-encoder projection: the reference audio enters as
codes through the audio-codebook embedding. --use_lora (rank --lora_rank, 16 by default, as the
original) adds adapters to the attention projections and to both FFN paths and freezes
everything else, the heads included, as peft does; freeze switches then change nothing.

Frozen parameters never reach DDP's gradient reduction, so freezing is compatible with
`ddp_find_unused_parameters=False` (see `train_v2_ddp.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

LORA_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""Attention projections and the gate/up/down projections, which both `mlp` and `audio_mlp` have."""
DEFAULT_LORA_RANK = 16

TEXT_FFN = (".mlp.", ".post_attention_layernorm.", ".input_layernorm.")
FREEZE_GROUPS = {
    "freeze_text_ffn": TEXT_FFN,
    "freeze_audio_ffn": (".audio_mlp.", ".audio_post_attention_layernorm.", ".audio_input_layernorm."),
    "freeze_embeddings": ("model.embed_tokens.", "model.embed_audio_tokens."),
    "freeze_text_head": ("text_lm_head.",),
    "freeze_audio_tower": (),
    "freeze_audio_encoder_proj": ("model.embed_audio_tokens.",),
    "freeze_llm": ("model.embed_tokens.", ".self_attn.", *TEXT_FFN, "model.norm.", "text_lm_head."),
}
"""Flag -> parameter-name fragments it freezes (names as in HiggsAudioV2ForConditionalGeneration)."""


@dataclass
class AdaptationArguments:
    use_lora: bool = field(default=False, metadata={"help": "LoRA (peft) on attention + both FFN paths; every base weight frozen "
                                                                "(the --freeze_* flags then change nothing)."})
    lora_rank: int | None = field(default=None, metadata={"help": f"LoRA rank with --use_lora (default {DEFAULT_LORA_RANK})."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha (the update is scaled by alpha / rank)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input, 0-1."})
    freeze_text_ffn: bool = field(default=False, metadata={"help": "Freeze the text FFN path (mlp and its layer norms)."})
    freeze_audio_ffn: bool = field(default=False, metadata={"help": "Freeze the audio FFN path (audio_mlp and its layer norms)."})
    freeze_embeddings: bool = field(default=False, metadata={"help": "Freeze the text and audio-codebook embeddings."})
    freeze_text_head: bool = field(default=False, metadata={"help": "Freeze the text LM head."})
    freeze_audio_tower: bool = field(
        default=False, metadata={"help": "The original script's flag. transformers' HiggsAudioV2 has no Whisper audio tower (the "
                                          "reference enters as codes), so there is nothing to freeze: accepted, changes nothing."})
    freeze_audio_encoder_proj: bool = field(
        default=False, metadata={"help": "The original script's flag. Nearest part in transformers' HiggsAudioV2, which has no "
                                          "audio-encoder projection: the audio-codebook embedding (model.embed_audio_tokens), "
                                          "what turns the reference (and the teacher-forced target) audio into hidden states."})
    freeze_llm: bool = field(
        default=False, metadata={"help": "The original script's flag: freeze the text LLM in transformers' HiggsAudioV2 (text "
                                          "embeddings, shared attention, text FFN path and its norms, final norm, text head); "
                                          "the audio path (audio FFN, audio-codebook embedding, audio head) keeps training."})

    def __post_init__(self):
        if self.lora_rank is not None and not self.use_lora:
            raise ValueError("--lora_rank sets the LoRA rank with --use_lora; add --use_lora (LoRA is off without it)")
        if self.lora_rank is None:
            self.lora_rank = DEFAULT_LORA_RANK
        if self.lora_rank < 1:
            raise ValueError(f"--lora_rank must be >= 1, got {self.lora_rank}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"--lora_dropout must be in [0, 1), got {self.lora_dropout}")


def adapt_model(model: nn.Module, args: AdaptationArguments) -> nn.Module:
    """Returns the model to train: the same one with parts frozen, or a peft LoRA wrapper."""
    if args.use_lora:
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
