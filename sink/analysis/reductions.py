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
    total = float(np.add.reduce(values))  # what values.sum() calls, without its Python wrapper
    if values.size and math.isfinite(total):
        return total / values.size
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


PAIRWISE_FROM = 8
"""NumPy sums fewer float64 values than this one after another from 0.0; from this many on it
sums them pairwise (in blocks of 8 accumulators)."""


def float_sum(values: list[float]) -> float:
    """NumPy's float64 sum of `values` (``np.add.reduce``), the same float: a few values are added
    here one after another from 0.0, as NumPy adds them, for less than the call would cost."""
    if len(values) >= PAIRWISE_FROM:
        return float(np.add.reduce(np.array(values, dtype=np.float64)))
    total = 0.0
    for value in values:
        total += value
    return total


def finite_mean_of_floats(values: list[float]) -> float:
    """`finite_mean` of Python floats (a batch's few rows), the same float."""
    total = float_sum(values)
    if values and math.isfinite(total):
        return total / len(values)
    finite = [value for value in values if math.isfinite(value)]
    return float_sum(finite) / len(finite) if finite else float("nan")
