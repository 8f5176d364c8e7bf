"""The human log's pieces of text: decoded ids on one line. Run: ./run-tests tests/sink/test_human_log.py"""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer

from stratlog.protocol import Array
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import WARN, Finding
from stratlog.sink.human_log import (KEPT_IDS, SHOWN_TEXT, _bin_totals, _first_last, _first_last_rows, _ids_text,
                                     _spread, _spreads, _utc_text,
                                     decoded_line, one_line, timestamp, tree)
from stratlog.sink.printable import printable
from stratlog.sink.token_decoding import IGNORE_INDEX, TokenDecoder
from tests.sink.test_token_decoding import FIXTURE_TOKENIZER, adversarial_ids, make_decoder


def with_plain_added_token() -> TokenDecoder:
    """A byte-level decoder whose vocabulary has an added token that is not special (the tokenizer decodes it)."""
    tokenizer = Tokenizer.from_file(str(FIXTURE_TOKENIZER))
    tokenizer.add_tokens(["<plain\\added\n>"])
    return TokenDecoder(tokenizer, "test")


@pytest.mark.parametrize("decoder", [TokenDecoder.from_path(FIXTURE_TOKENIZER), with_plain_added_token(),
                                     make_decoder(), None], ids=["byte-level", "added-token", "word-level", "none"])
def test_decoded_line_is_one_line_of_the_rendered_text(decoder: TokenDecoder | None):
    """The log's decoded texts escape newlines and backslashes while decoding (on the bytes, for a
    byte-level tokenizer): the same line as escaping the rendered text, cut or not; a whole line
    has the ASCII controls escaped too, and the log file's escaping of it gives the same text."""
    context = RunContext("run", decoder=decoder, no_decoder_reason="tokenizer at C:\\models\\x\r\nnot the run's")
    vocabulary = decoder.vocab_size if decoder is not None else 10
    rng = np.random.default_rng(11)
    sequences = [[], [IGNORE_INDEX, IGNORE_INDEX], [vocabulary - 1] * 3]
    for _ in range(100):
        length = int(rng.integers(1, 400))
        byte_level = decoder is not None and decoder._byte_level is not None
        sequences.append(adversarial_ids(decoder, rng, length) if byte_level
                         else rng.integers(-2, vocabulary + 2, length).tolist())
    for ids in sequences:
        ids = np.asarray(ids, dtype=np.int64)
        for limit in (SHOWN_TEXT, 5):
            assert decoded_line(context, ids, limit) == one_line(context.render(ids), limit)
        line = decoded_line(context, ids)
        assert printable(f'Decoded: "{line}"\n') == printable(f'Decoded: "{one_line(context.render(ids))}"\n')
        assert not any(character < " " and character != "\t" or character == "\x7f" for character in line)
    assert "\n" not in decoded_line(context, np.arange(min(vocabulary, 2000)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and overflow on purpose
def test_spreads_of_tables_reduced_together_are_each_tables_own():
    """The attention section reduces all its tables in one step: each spread is the one of its
    table alone, whatever the values (NaN, inf, huge, tiny, signed zeros), shapes (empty, long)
    and dtypes."""
    rng = np.random.default_rng(4)

    def table(shape, dtype, special=None):
        values = rng.standard_normal(shape) * 10.0 ** float(rng.integers(-8, 9))
        if special is not None and values.size:
            values.reshape(-1)[rng.integers(0, values.size, 3)] = special
        return Array.from_numpy(values.astype(dtype))

    for _ in range(200):
        shape = [(28, 24), (28,), (0,), (3, 0), (1,), (100_000,), (7, 5, 3)][int(rng.integers(7))]
        dtype = [np.float32, np.float64, np.float16, np.int32][int(rng.integers(4))]
        tables = [table(shape, dtype, special=[None, None, np.nan, np.inf, -np.inf, 0.0, -0.0][int(rng.integers(7))])
                  for _ in range(int(rng.integers(1, 6)))]
        tables.insert(int(rng.integers(len(tables) + 1)), table((28,), np.float32))
        tables.append(Array.from_numpy(np.array([[-0.0, -0.0], [0.0, -0.0]])[int(rng.integers(2))]))
        assert _spreads(tables) == [_spread(t.to_numpy()) for t in tables]


def test_tree_branches_every_row_and_finding_and_closes_on_the_last():
    finding = Finding("run", 0, 1, "input", "check", WARN, "why")
    assert tree("Empty", [], []) == "Empty:"
    assert tree("One", [("a", "1")], []) == "One:\n└── a: 1"
    assert tree("Only findings", [], [finding]) == "Only findings:\n└── [WARN] check: why"
    assert tree("Both", [("a", "1"), ("b", "2")], [finding]) == "Both:\n├── a: 1\n├── b: 2\n└── [WARN] check: why"


def test_rows_of_small_ints_are_written_as_python_writes_them():
    """The output section's audio codes come from a table of decimal texts where they are small
    non-negative ints: the same text as `_first_last` of each row, for every dtype and range."""
    rng = np.random.default_rng(6)
    for _ in range(300):
        shape = (int(rng.integers(0, 9)), int(rng.integers(0, 30)))
        low, high = [(0, 1026), (-100, 1026), (0, 5000), (4090, 4100), (-(2 ** 40), 2 ** 40), (-3, 3),
                     (-(2 ** 15), 2 ** 15)][int(rng.integers(7))]
        values = rng.integers(low, high, shape)
        for dtype in (np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint16, np.uint64, np.float32, np.bool_):
            if np.issubdtype(dtype, np.unsignedinteger) and low < 0:
                continue
            typed = values.astype(dtype)
            assert _first_last_rows(typed) == [_first_last(row) for row in typed]
    cube = np.arange(24).reshape(2, 3, 4)
    assert _first_last_rows(cube) == [_first_last(rows) for rows in cube]


def test_a_timestamp_kept_per_second_is_the_text_of_its_own_time():
    """Times shown by their second's kept text read as datetime writes each time itself: fractions
    that round up to the next second, negative times, times no calendar holds, the largest ones."""
    special = [0.0, 0.5, 0.998999, 0.999, 0.9999994, 0.9999995, 0.9999996, 1.0 - 2 ** -40, -0.5, -1e-9, -1.0,
               59.9999999, 1.7e9, 1.7e9 + 0.9989999, 1.7e9 + 0.99899995, 1.7e9 + 0.9999997, 253402300799.0,
               253402300799.9999, 253402300800.0, 1e20, 1e300, float("inf"), float("-inf"), float("nan"), -1e300]
    rng = np.random.default_rng(5)
    seconds = rng.integers(0, 253402300800, 300)
    times = special + (seconds + rng.random(300)).tolist() + (seconds + 1 - rng.random(300) * 1e-3).tolist()
    for unix_time in times * 2:  # twice: the second time from the kept texts
        try:
            expected = _utc_text(unix_time)
        except (OverflowError, ValueError, OSError):
            expected = f"{unix_time!r} (not a time)"
        assert timestamp(unix_time) == expected, unix_time


def test_histogram_bin_totals_are_the_rows_summed_in_order():
    """The attention section's bin totals (integers summed along a transposed copy) equal the
    rows added one by one, for every integer dtype, values that wrap, empty and 0-d histograms."""
    rng = np.random.default_rng(8)
    shapes = [(), (0,), (10,), (3, 0), (1, 1, 1), (28, 24, 10), (5, 7), (2, 3, 4, 5)]
    for dtype in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32):
        for shape in shapes:
            info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
            low, high = (info.min, info.max) if info is not None else (-1e30, 1e30)
            histogram = (rng.integers(0, 2, shape).astype(dtype) if dtype is np.bool_ else
                         rng.uniform(low, high, shape).astype(dtype) if info is None else
                         rng.integers(low, high, shape, dtype=dtype, endpoint=True))
            expected = histogram.reshape(-1, histogram.shape[-1]).sum(axis=0).tolist() if histogram.ndim and histogram.size else []
            assert _bin_totals(histogram) == expected, (dtype, shape)


def test_id_list_texts_are_their_lists_texts_kept_or_not():
    """The attention section's layer / head lists: a kept text is the text of the list asked for
    (the same list again, another list of the same length, a longer one that is never kept)."""
    rng = np.random.default_rng(11)
    lists = [list(range(28)), list(range(24)), [], [5], list(range(28)), list(range(1, 29)),
             rng.integers(-2 ** 62, 2 ** 62, KEPT_IDS).tolist(), rng.integers(0, 9, KEPT_IDS + 1).tolist()]
    for values in lists + lists[::-1]:
        assert _ids_text(values) == str(values)
