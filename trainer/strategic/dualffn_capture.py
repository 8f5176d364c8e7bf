"""DualFFN health: does each layer's text FFN and audio FFN get gradient, and move?

Taken between backward and the optimizer step (gradient norms) and across the step (update
ratios), on capture steps only. The update ratio ||W_after - W_before|| / ||W_before|| is
measured on a fixed, seeded sample of SAMPLED_WEIGHTS elements (drawn with replacement) per
weight matrix (every element when the matrix is smaller, as in the demo model): copying the full FFNs of a
3B model every capture would cost gigabytes. The sample uses its own generator, so the
training RNG stream is untouched.
"""

from __future__ import annotations

import torch

from stratlog.trainer.strategic.attention_capture import decoder_layers

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
        generator = torch.Generator().manual_seed(0)
        self._samples: dict[int, torch.Tensor | None] = {}
        for params in self.paths["text"] + self.paths["audio"]:
            for param in params:
                count = param.numel()
                # randint, not randperm: a permutation of a 25M-element matrix costs ~0.3 s per matrix
                self._samples[id(param)] = None if count <= SAMPLED_WEIGHTS else \
                    torch.randint(0, count, (SAMPLED_WEIGHTS,), generator=generator).to(param.device)
        self._before: dict[int, torch.Tensor] = {}
        self.grad_norms: dict[str, torch.Tensor] = {}

    def _sampled(self, param: torch.nn.Parameter) -> torch.Tensor:
        flat = param.detach().reshape(-1)
        index = self._samples[id(param)]
        return (flat if index is None else flat[index]).float().clone()

    @torch.no_grad()
    def before_optimizer_step(self) -> None:
        """Gradient norms per layer and path; weights sampled before the update."""
        for path, layers in self.paths.items():
            norms = []
            for params in layers:
                grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
                norms.append(torch.linalg.vector_norm(torch.stack(grads)) if grads else torch.zeros((), device=params[0].device))
            self.grad_norms[path] = torch.stack(norms)
        self._before = {id(p): self._sampled(p) for layers in self.paths.values() for params in layers for p in params}

    @torch.no_grad()
    def update_ratios(self) -> dict[str, torch.Tensor]:
        """||ΔW|| / ||W_before|| per layer and path, after the optimizer step."""
        ratios = {}
        for path, layers in self.paths.items():
            values = []
            for params in layers:
                change = sum(((self._sampled(p) - self._before[id(p)]) ** 2).sum() for p in params)
                size = sum((self._before[id(p)] ** 2).sum() for p in params)
                values.append(torch.sqrt(change) / torch.sqrt(size).clamp(min=1e-12))
            ratios[path] = torch.stack(values)
        self._before = {}
        return ratios
