"""A soxr-backed stand-in for the one piece of torchaudio that transformers' Higgs audio tokenizer uses.

`transformers.models.higgs_audio_v2_tokenizer` does `import torchaudio` at module level and calls
only `torchaudio.functional.resample(waveform, orig_freq, new_freq)` (24 kHz -> 16 kHz for its
HuBERT branch). torchaudio has no CPU build that matches torch 2.13 (PyPI's nearest wheel is a CUDA
build that fails to load), so on such machines the tokenizer cannot even be imported.
`install_if_missing()` registers, only when `import torchaudio` fails, a minimal `torchaudio` module
whose `functional.resample` is soxr's high-quality resampler: a real torchaudio always wins.

Two transformers details shape this module. Availability is probed with
`importlib.util.find_spec("torchaudio")`, which reads `sys.modules[...].__spec__`, so the stand-in
carries a proper spec and a `__version__`. And `import transformers` caches that probe and records,
in its lazy modules, every class whose backend is missing; a class looked up afterwards is a
`Placeholder` that raises on use. So when transformers is already imported, the cache is cleared and
those records are dropped; call this before transformers first touches the tokenizer class, ideally
before `import transformers`.
"""

from __future__ import annotations

import importlib.machinery
import math
import sys
import types

import numpy as np
import soxr
import torch

STANDIN_VERSION = "0.0.0+soxr-standin"
"""`torchaudio.__version__` of the stand-in; the suffix tells a reader which torchaudio is loaded."""


def resample(waveform: torch.Tensor, orig_freq: int | float, new_freq: int | float) -> torch.Tensor:
    """Resample the last axis of `waveform` from `orig_freq` to `new_freq` Hz with soxr (HQ).

    Same contract as `torchaudio.functional.resample`: any leading shape, time last, output
    length `ceil(time * new_freq / orig_freq)`, same dtype and device. soxr rounds the length
    instead of taking the ceiling, so the output is zero-padded (or trimmed) to torchaudio's length:
    the Higgs tokenizer aligns its semantic and acoustic frame counts on that length.
    Not differentiable (the tokenizer resamples under no_grad).
    """
    if orig_freq == new_freq:
        return waveform
    leading_shape, length = waveform.shape[:-1], waveform.shape[-1]
    work_dtype = np.float64 if waveform.dtype == torch.float64 else np.float32
    # soxr wants [time, channels]: flatten every leading axis into channels.
    channels = waveform.detach().reshape(-1, length).cpu().numpy().astype(work_dtype, copy=False).T
    resampled = soxr.resample(np.ascontiguousarray(channels), orig_freq, new_freq, quality="HQ")
    target_length = math.ceil(length * new_freq / orig_freq)
    resampled = resampled[:target_length]
    if resampled.shape[0] < target_length:
        resampled = np.pad(resampled, ((0, target_length - resampled.shape[0]), (0, 0)))
    result = torch.from_numpy(np.ascontiguousarray(resampled.T))
    return result.reshape(*leading_shape, target_length).to(dtype=waveform.dtype, device=waveform.device)


def _new_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    return module


def _forget_missing_torchaudio_in_transformers() -> None:
    """Undo what an earlier `import transformers` recorded about torchaudio being absent."""
    transformers = sys.modules.get("transformers")
    if transformers is None:
        return
    from transformers.utils import import_utils

    import_utils.is_torchaudio_available.cache_clear()
    placeholder_type = import_utils.DummyObject
    for name, module in list(sys.modules.items()):
        missing = getattr(module, "_object_missing_backend", None)
        if not name.startswith("transformers") or not isinstance(missing, dict):
            continue
        for object_name in [key for key, backends in missing.items() if list(backends) == ["torchaudio"]]:
            del missing[object_name]
            # A Placeholder handed out earlier is cached as a module attribute: drop it too.
            if isinstance(module.__dict__.get(object_name), placeholder_type):
                delattr(module, object_name)


def install_if_missing() -> bool:
    """Register the soxr stand-in as `torchaudio` unless a real torchaudio imports.

    Returns True when the stand-in is (now or already) the registered `torchaudio`.
    """
    existing = sys.modules.get("torchaudio")
    if existing is not None:
        return getattr(existing, "__version__", None) == STANDIN_VERSION
    try:
        import torchaudio  # noqa: F401  (a working real install always wins)

        return False
    except (ImportError, OSError):
        # A CUDA-only wheel on a CPU machine fails with OSError while loading its libraries.
        for name in [name for name in sys.modules if name.split(".")[0] == "torchaudio"]:
            del sys.modules[name]
    package = _new_module("torchaudio")
    package.__version__ = STANDIN_VERSION
    functional = _new_module("torchaudio.functional")
    functional.resample = resample
    package.functional = functional
    sys.modules["torchaudio"] = package
    sys.modules["torchaudio.functional"] = functional
    _forget_missing_torchaudio_in_transformers()
    return True
