"""The shared reductions give NumPy's own floats: the Python sums of a few values and the mean of
finite Python floats against NumPy on the same values (NaN, infinities, signed zeros, huge and
tiny magnitudes, every length around NumPy's pairwise block). Run: ./run-tests tests/sink/analysis/test_reductions.py"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratlog.sink.analysis.reductions import PAIRWISE_FROM, finite_mean, finite_mean_of_floats, float_sum

SPECIAL = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e16, -1e16, 1.0, 5e-324, 1.7976931348623157e308]


def value_lists(seed: int, count: int = 400):
    rng = np.random.default_rng(seed)
    for length in range(0, 2 * PAIRWISE_FROM + 3):
        for trial in range(count):
            values = (rng.standard_normal(length) * 10.0 ** rng.integers(-20, 20, length)).tolist()
            if trial % 2 and length:
                for _ in range(int(rng.integers(1, length + 1))):
                    values[int(rng.integers(0, length))] = SPECIAL[int(rng.integers(0, len(SPECIAL)))]
            yield values


def same_float(a: float, b: float) -> bool:
    """The same float, zeros' signs included (a NaN's sign is nowhere written)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's note on inf - inf
@pytest.mark.parametrize("seed", [0, 1])
def test_float_sum_is_numpys_float64_sum(seed):
    for values in value_lists(seed):
        expected = float(np.array(values, dtype=np.float64).sum())
        assert same_float(float_sum(values), expected), values


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("seed", [2, 3])
def test_finite_mean_of_floats_is_finite_mean_of_the_array(seed):
    for values in value_lists(seed):
        expected = finite_mean(np.array(values, dtype=np.float64))
        assert same_float(finite_mean_of_floats(values), expected), values


def test_float32_rows_read_as_python_floats_sum_as_their_float64_copy():
    rows = np.random.default_rng(4).random(5, dtype=np.float32) * 7
    assert same_float(float_sum(rows.tolist()), float(rows.astype(float).sum()))
