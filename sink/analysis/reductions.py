"""Reductions the snapshot analyses share, as cheap as NumPy allows while giving NumPy's own numbers."""

from __future__ import annotations

import math

import numpy as np


def finite_mean(values: np.ndarray) -> float:
    """The mean of the finite values (NaN when there are none), exactly as
    ``values[np.isfinite(values)].mean()``: a finite sum means every value is finite, and then the
    plain sum is that mean's own sum (the same values, in the same order), so the usual case needs
    neither the mask nor the copy."""
    values = values.ravel()
    total = float(values.sum())
    if values.size and math.isfinite(total):
        return total / values.size
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
