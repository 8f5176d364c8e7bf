"""Attention statistics from real attention weights, for sampled layers and heads.

The training forward keeps its fast attention (sdpa, flash, ...): on a capture step only, a
forward pre-hook on each sampled layer's `self_attn` recomputes that layer's queries and keys
for one sample from the very hidden states and rotary embeddings the attention receives, and
reduces softmax(q·kᵀ) to a few numbers per head right away, a few heads at a time. So no full
attention map of all layers ever exists, non-capture steps pay nothing (the hooks are removed),
and the training computation is untouched. The statistics match eager attention's weights
(see tests/trainer/test_attention_capture.py).
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager

import torch

HISTOGRAM_BINS = 10
HEADS_PER_CHUNK = 4
"""Heads reduced at once: bounds the extra memory to HEADS_PER_CHUNK x length² floats."""


def decoder_layers(model) -> list:
    """The transformer's decoder layers (each has `self_attn`, `mlp` and `audio_mlp`)."""
    base = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    return list(base.layers)


def choose_layers(spec: str, num_layers: int) -> list[int]:
    """`spec`: "all", a count like "4" (evenly spaced, first and last included), or indices
    like "0,13,-1"."""
    spec = spec.strip()
    if spec == "all":
        return list(range(num_layers))
    if "," not in spec and not spec.startswith("-"):
        count = min(int(spec), num_layers)
        if count < 1:
            raise ValueError(f"--strategic_attention_layers: need at least 1 layer, got {spec!r}")
        return sorted({round(i * (num_layers - 1) / max(count - 1, 1)) for i in range(count)})
    chosen = []
    for part in spec.split(","):
        index = int(part)
        if not -num_layers <= index < num_layers:
            raise ValueError(f"--strategic_attention_layers: layer {index} outside a {num_layers}-layer model")
        chosen.append(index % num_layers)
    return sorted(set(chosen))


def choose_heads(spec: str, num_heads: int) -> list[int]:
    """`spec`: "all" or indices like "0,1,7"."""
    if spec.strip() == "all":
        return list(range(num_heads))
    heads = sorted({int(part) % num_heads for part in spec.split(",")})
    return heads


@torch.no_grad()
def attention_statistics(weights: torch.Tensor, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reduce [heads, queries, keys] attention weights of one sample (valid positions only) to
    per-head statistics; a statistic over an empty set of queries is NaN."""
    weights = weights.float()

    def mean_over(queries: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        if not bool(queries.any()):
            return torch.full(values.shape[:1], math.nan, device=values.device)
        return values[:, queries].mean(dim=1)

    def mass(keys: torch.Tensor) -> torch.Tensor:
        return weights @ keys.float()  # [heads, queries]: summed weight on those keys

    largest = weights.max(dim=-1).values
    bins = torch.clamp((largest * HISTOGRAM_BINS).long(), max=HISTOGRAM_BINS - 1)
    histogram = torch.zeros(weights.shape[0], HISTOGRAM_BINS, device=weights.device, dtype=torch.int64)
    histogram.scatter_add_(1, bins, torch.ones_like(bins))
    every_query = torch.ones(weights.shape[1], dtype=torch.bool, device=weights.device)
    return {
        "text_to_audio": mean_over(masks["text"], mass(masks["audio"])),
        "audio_to_text": mean_over(masks["audio"], mass(masks["text"])),
        "target_to_reference": mean_over(masks["target"], mass(masks["reference"])),
        "entropy": mean_over(every_query, -torch.special.xlogy(weights, weights).sum(dim=-1)),
        "max_weight": mean_over(every_query, largest),
        "max_weight_histogram": histogram,
    }


@contextmanager
def _without_side_effects(modules: list[torch.nn.Module], device: torch.device):
    """Run the training model's own projections for a measurement without touching training.
    Under LoRA they are peft layers whose dropout, in train mode, draws from the RNG the
    forward's later dropout masks come from: in eval mode they draw nothing (and the statistics
    are those of the deterministic projection); the RNG is forked as well, so anything else in
    them that draws cannot move training either."""
    modes = [(module, module.training) for root in modules for module in root.modules()]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            for module, _ in modes:
                module.training = False
            yield
        finally:
            for module, training in modes:
                module.training = training


class AttentionProbe:
    """Hooks the sampled layers for one capture forward and keeps their reduced statistics."""

    def __init__(self, model, layers: list[int], heads: list[int]):
        self.model = model
        self.layers = layers
        self.heads = heads
        self._hooks = []
        self._sample = 0
        self._masks: dict[str, torch.Tensor] = {}
        self.results: dict[int, dict[str, torch.Tensor]] = {}

    def arm(self, sample: int, masks: dict[str, torch.Tensor]) -> None:
        """Attach the hooks for the next forward; `masks` cover the sample's valid positions."""
        self.disarm()
        self._sample, self._masks, self.results = sample, masks, {}
        all_layers = decoder_layers(self.model)
        for index in self.layers:
            attention = all_layers[index].self_attn
            hook = attention.register_forward_pre_hook(self._make_hook(index), with_kwargs=True)
            self._hooks.append(hook)

    def disarm(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _make_hook(self, layer_index: int):
        def hook(module, args, kwargs):
            if layer_index not in self.results:  # gradient checkpointing re-runs forwards: measure once
                hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
                self.results[layer_index] = self._measure(module, hidden, kwargs["position_embeddings"])
            return None
        return hook

    @torch.no_grad()
    def _measure(self, attention, hidden: torch.Tensor, position_embeddings) -> dict[str, torch.Tensor]:
        positions = self._masks["valid"].nonzero().squeeze(-1)  # padding is left out, wherever it is
        length = len(positions)
        head_dim = attention.head_dim
        states = hidden[self._sample, positions]
        with _without_side_effects([attention.q_proj, attention.k_proj], hidden.device):
            query = attention.q_proj(states).view(length, -1, head_dim).transpose(0, 1)[None]
            key = attention.k_proj(states).view(length, -1, head_dim).transpose(0, 1)[None]
        cos, sin = position_embeddings
        row = min(self._sample, cos.shape[0] - 1)
        rotary = sys.modules[type(attention).__module__].apply_rotary_pos_emb
        query, key = rotary(query, key, cos[row : row + 1, positions], sin[row : row + 1, positions])
        groups = query.shape[1] // key.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=hidden.device).triu(1)
        masks = {name: mask[positions] for name, mask in self._masks.items()}
        parts: list[dict[str, torch.Tensor]] = []
        for chunk_start in range(0, len(self.heads), HEADS_PER_CHUNK):
            heads = self.heads[chunk_start : chunk_start + HEADS_PER_CHUNK]
            q = query[0, heads].float()
            k = key[0, [h // groups for h in heads]].float()
            scores = (q @ k.transpose(-1, -2)) * attention.scaling
            weights = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
            parts.append(attention_statistics(weights, masks))
        return {name: torch.cat([part[name] for part in parts]) for name in parts[0]}

    def tables(self) -> dict[str, torch.Tensor]:
        """Statistics stacked as [layers, heads] (histogram [layers, heads, bins]), in layer order."""
        measured = [self.results[index] for index in self.layers if index in self.results]
        if not measured:
            return {}
        return {name: torch.stack([layer[name] for layer in measured]) for name in measured[0]}
