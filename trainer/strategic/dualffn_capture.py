"""DualFFN health: does each layer's text FFN and audio FFN get gradient, and move?

Taken between backward and the optimizer step (gradient norms) and across the step (update
ratios), on capture steps only. The update ratio ||W_after - W_before|| / ||W_before|| is
measured on a fixed, seeded sample of about SAMPLED_WEIGHTS elements (drawn with replacement) per
weight matrix (every element when the matrix is smaller, as in the demo model): copying the full FFNs of a
3B model every capture would cost gigabytes. The sample uses its own generator, so the
training RNG stream is untouched.

Both are sums of squares, so they work the same on sharded parameters (FSDP2, `shards.py`):
each rank sums its own slice of each gradient and of its sampled weights (a sample proportional
to the slice's size), one all_reduce per measurement adds the sums over the ranks, and the
norms and ratios are those of the whole matrices; no parameter or gradient is gathered. Under
sharding every rank must therefore measure on the same steps.
"""

from __future__ import annotations

import math

import torch

from stratlog.trainer.strategic.attention_capture import decoder_layers
from stratlog.trainer.strategic.shards import local_part, shard_group, sum_over_shards

SAMPLED_WEIGHTS = 65_536


class DualFfnProbe:
    def __init__(self, model):
        self.paths: dict[str, list[list[torch.nn.Parameter]]] = {"text": [], "audio": []}
        self.layers: list[int] = []
        for index, layer in enumerate(decoder_layers(model)):
            if hasattr(layer, "mlp") and hasattr(layer, "audio_mlp"):
                self.layers.append(index)
                self.paths["text"].append(list(layer.mlp.parameters()))
                self.paths["audio"].append(list(layer.audio_mlp.parameters()))
        self._params = [p for layers in self.paths.values() for params in layers for p in params]
        self._group = shard_group(self._params[0]) if self._params else None
        generator = torch.Generator().manual_seed(0)
        self._samples: dict[int, torch.Tensor | None] = {}
        for param in self._params:
            count, local = param.numel(), local_part(param).numel()
            # this rank's share of the sample: all of it unsharded, in proportion to its slice when sharded
            share = math.ceil(SAMPLED_WEIGHTS * local / count) if count else 0
            # randint, not randperm: a permutation of a 25M-element matrix costs ~0.3 s per matrix
            self._samples[id(param)] = None if count <= SAMPLED_WEIGHTS else \
                torch.randint(0, local, (share,), generator=generator).to(local_part(param).device)
        self._before: dict[int, torch.Tensor] = {}
        self.grad_norms: dict[str, torch.Tensor] = {}

    def _sampled(self, param: torch.nn.Parameter) -> torch.Tensor:
        flat = local_part(param.detach()).reshape(-1)
        index = self._samples[id(param)]
        return (flat if index is None else flat[index]).float().clone()

    def _layer_sums(self, squares) -> torch.Tensor:
        """[paths, layers]: `squares(param)` of this rank's slices, summed over each layer's parameters."""
        device = local_part(self._params[0]).device
        return torch.stack([torch.stack([sum((squares(p) for p in params), torch.zeros((), device=device)) for params in layers])
                            for layers in self.paths.values()])

    @torch.no_grad()
    def before_optimizer_step(self) -> None:
        """Gradient norms per layer and path; weights sampled before the update."""
        squares = self._layer_sums(lambda p: local_part(p.grad.detach()).float().pow(2).sum() if p.grad is not None
                                   else torch.zeros((), device=local_part(p).device))
        norms = sum_over_shards(squares, self._group).sqrt()
        self.grad_norms = dict(zip(self.paths, norms))
        self._before = {id(p): self._sampled(p) for p in self._params}

    @torch.no_grad()
    def update_ratios(self) -> dict[str, torch.Tensor]:
        """||ΔW|| / ||W_before|| per layer and path, after the optimizer step."""
        change, size = sum_over_shards(torch.stack([  # one collective for both
            self._layer_sums(lambda p: ((self._sampled(p) - self._before[id(p)]) ** 2).sum()),
            self._layer_sums(lambda p: (self._before[id(p)] ** 2).sum()),
        ]), self._group)
        self._before = {}
        return dict(zip(self.paths, change.sqrt() / size.sqrt().clamp(min=1e-12)))
