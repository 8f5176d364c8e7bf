"""Is the tokenizer the sink decodes with the run's? A finding about the sink's own
configuration, never about the data.

A tokenizer with another vocabulary decodes every id to fluent wrong text, and its special-token
ids make the input's structure look broken. Since protocol 1.2 the run start carries the run's
`TokenizerIdentity` (vocabulary size, special-token ids, a digest of the vocabulary); the
pipeline compares it with the tokenizer it loaded (the run's `tokenizer_path`, or `--tokenizer`)
once per run. On a mismatch the run is shown with raw ids instead of decoded text, and the
structure checks use the run's own special-token ids from the run start, so no data finding is
blamed on the sink's tokenizer. A run start from an older sender gives no identity: nothing to
compare, no finding.
"""

from __future__ import annotations

from stratlog.protocol import TokenizerIdentity
from stratlog.sink.findings import FAIL, OK, Finding

ANALYSIS = "sink"
SHOWN_SPECIALS = 3


def tokenizer_finding(run_id: str, source: str, ours: TokenizerIdentity, run: TokenizerIdentity) -> Finding | None:
    """OK or FAIL for the tokenizer loaded from `source` (identity `ours`) against the run's
    identity `run`; None when the run gave none."""
    if not run.digest:
        return None
    if ours.digest == run.digest:
        return Finding(run_id, None, None, ANALYSIS, "tokenizer", OK,
                       f"the sink decodes with the run's own tokenizer ({source}: {ours.vocabulary_size} ids, "
                       f"vocabulary digest {ours.digest[:19]}…)", ours.digest)
    differences = []
    if ours.vocabulary_size != run.vocabulary_size:
        differences.append(f"{ours.vocabulary_size} ids where the run's has {run.vocabulary_size}")
    moved = sorted(name for name, index in run.special_tokens.items() if ours.special_tokens.get(name) != index)
    if moved:
        shown = ", ".join(f"{name} {run.special_tokens[name]} -> {ours.special_tokens.get(name, 'absent')}"
                          for name in moved[:SHOWN_SPECIALS])
        more = f" (+{len(moved) - SHOWN_SPECIALS} more)" if len(moved) > SHOWN_SPECIALS else ""
        differences.append(f"{len(moved)} special token(s) at other ids: {shown}{more}")
    if not differences:
        differences.append("the same size and special tokens, but ordinary tokens at other ids")
    return Finding(run_id, None, None, ANALYSIS, "tokenizer", FAIL,
                   f"the sink's tokenizer ({source}) is not the run's: {'; '.join(differences)} (vocabulary digest "
                   f"{ours.digest[:19]}… vs the run's {run.digest[:19]}…). A configuration problem of the sink, not "
                   "of the data: token ids are shown raw instead of decoded, and the input's structure is checked "
                   "with the run's own special-token ids. Give the sink (or the replay) --tokenizer with the run's "
                   "tokenizer, or none to use the run's tokenizer_path",
                   {"ours": ours.digest, "run": run.digest})
