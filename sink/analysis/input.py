"""Input analysis: is the reference audio there, is the token structure what Higgs expects,
was anything truncated, and do the ranks train on different data?

Structure follows the Higgs chat template as the trainer expands it: ``<|begin_of_text|>``
first, balanced header tokens, every audio run ``<|audio_out_bos|> <|AUDIO_OUT|> x(T+2)
<|reserved_special_token_6|> x(num_codebooks-1) <|audio_eos|>`` (``<|audio_bos|>`` and
``<|AUDIO|>`` for audio given as input), and ``<|eot_id|>`` last before any padding.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from stratlog.protocol import InputSnapshot
from stratlog.protocol.pair_similarity import PAIR_SIMILARITY_OTHER_SPEAKER, PAIR_SIMILARITY_SAME_RECORDING
from stratlog.sink.analysis.history import forget_run
from stratlog.sink.analysis.run_context import RunContext, SpecialTokenIds
from stratlog.sink.findings import FAIL, OK, WARN, Finding
from stratlog.sink.thresholds import (
    DATA_OVERLAP_WARN,
    RANK_STEPS_REMEMBERED,
    REFERENCE_CONSTANT_SHARE,
)

ANALYSIS = "input"
SHOWN_PROBLEMS = 3
SHOWN_RANKS = 8
"""Other ranks named in a rank_data verdict; past that, only their number."""


class StepSamples:
    """The sample ids each rank trained on at one step, and which ranks had each sample, so a
    rank's overlap with the others costs a lookup per sample, not a pass over every rank."""

    def __init__(self) -> None:
        self.by_rank: dict[int, frozenset[str]] = {}
        self.ranks_of: dict[str, set[int]] = {}

    def add(self, rank: int, samples: frozenset[str]) -> None:
        for sample in self.by_rank.get(rank, ()):  # a rank that sent the step twice: its latest counts
            self.ranks_of[sample].discard(rank)
        self.by_rank[rank] = samples
        for sample in samples:
            self.ranks_of.setdefault(sample, set()).add(rank)

    def most_shared_with(self, rank: int) -> tuple[int | None, int]:
        """The other rank that had the most of `rank`'s samples too (the lowest of those ranks) and
        how many; (None, 0) when no other rank had any. Ranks that had all of them (the
        missing-sampler fault: every rank has every sample) are found by one intersection of
        sets, in C, not by counting rank by rank: 2 048 ranks at fault must not cost 2 048 Python
        steps per input."""
        mine = self.by_rank[rank]
        everywhere = set.intersection(*(self.ranks_of[sample] for sample in mine)) - {rank} if mine else set()
        if everywhere:
            return min(everywhere), len(mine)
        shared: dict[int, int] = {}
        for sample in mine:
            for other in self.ranks_of[sample]:
                if other != rank:
                    shared[other] = shared.get(other, 0) + 1
        return max(shared.items(), key=lambda item: (item[1], -item[0])) if shared else (None, 0)


class RunSamples:
    """What a run has shown of its data set: its distinct sample ids (kept up to one more than a
    global batch, all that the question needs) and how many steps showed them."""

    def __init__(self) -> None:
        self.distinct: set[str] = set()
        self.steps: set[int] = set()

    def add(self, step: int, samples: tuple[str, ...], global_batch: int) -> None:
        if len(self.distinct) <= global_batch:
            self.distinct.update(samples)
        if len(self.steps) < 2:
            self.steps.add(step)

    def smaller_than_a_batch(self, step_samples: int, global_batch: int) -> bool:
        """Every step so far (two or more) showed the same samples, fewer than one global batch:
        the data set holds no more (a sampler that does not shard shows new samples each step)."""
        return len(self.steps) >= 2 and len(self.distinct) == step_samples and step_samples < global_batch


class InputAnalysis:
    """Judges input snapshots; remembers recent sample ids per step to compare ranks."""

    def __init__(self) -> None:
        self._samples_by_step: OrderedDict[tuple[str, int], StepSamples] = OrderedDict()
        self._runs: dict[str, RunSamples] = {}

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        forget_run(self._samples_by_step, run_id)
        self._runs.pop(run_id, None)

    def evaluate(self, message: InputSnapshot, context: RunContext) -> list[Finding]:
        ids = message.input_ids.to_numpy()
        verdicts = [reference_audio(message), reference_pairs(message)]
        if context.tokens is None:
            verdicts.append(("special_tokens", WARN, "not checked: no Higgs text tokenizer for this run (the run_start's "
                             "tokenizer_path cannot be read here); pass --tokenizer", None))
        else:
            end = _content_end(ids, context.tokens)
            verdicts.append(special_tokens(ids, context.tokens, context.num_codebooks, end))
            verdicts.append(truncation(ids, context.tokens, end))
        verdicts.append(self._rank_data(message))
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)
                for check, severity, reason, value in filter(None, verdicts)]

    def _rank_data(self, message: InputSnapshot):
        if message.world_size < 2 or not message.sample_ids:
            return None
        key = (message.run_id, message.step)
        seen = self._samples_by_step.get(key)
        if seen is None:
            seen = self._samples_by_step[key] = StepSamples()
        while len(self._samples_by_step) > RANK_STEPS_REMEMBERED:
            self._samples_by_step.popitem(last=False)
        mine = tuple(message.sample_ids)
        seen.add(message.rank, frozenset(mine))
        global_batch = len(mine) * message.world_size
        run = self._runs.get(message.run_id)
        if run is None:
            run = self._runs[message.run_id] = RunSamples()
        run.add(message.step, mine, global_batch)
        others = len(seen.by_rank) - 1
        if not others:
            return None
        rank, count = seen.most_shared_with(message.rank)
        share = count / len(set(mine))
        if share > DATA_OVERLAP_WARN and run.smaller_than_a_batch(len(seen.ranks_of), global_batch):
            return ("rank_data", FAIL if share >= 1.0 else WARN, f"rank {message.rank} shares {share:.0%} of its samples "
                    f"with rank {rank} at step {message.step}, and every step showed the same {len(run.distinct)} "
                    f"samples: the data set holds fewer samples than one global batch ({len(mine)} per rank x "
                    f"{message.world_size} ranks = {global_batch}), so each batch is filled by starting the data set "
                    "over and ranks train on the same samples; add data, or lower per_device_train_batch_size", share)
        if share >= 1.0:
            return ("rank_data", FAIL, f"rank {message.rank} got the same samples as rank {rank} at step {message.step} "
                    f"({', '.join(mine[:3])}...): every rank trains on the same data; the DistributedSampler is missing "
                    "(a custom dataloader or IterableDataset without sharding)", share)
        if share > DATA_OVERLAP_WARN:
            return ("rank_data", WARN, f"rank {message.rank} shares {share:.0%} of its samples with rank {rank} at step "
                    f"{message.step}: check that the sampler shards the data set per rank", share)
        named = (", ".join(map(str, sorted(other for other in seen.by_rank if other != message.rank)))
                 if others <= SHOWN_RANKS else f"of {others} other ranks")
        return ("rank_data", OK, f"no more than {share:.0%} of the samples shared with ranks {named} at this step", share)


def input_ids_shape(message: InputSnapshot) -> list[int]:
    """The batch's input_ids shape; [length of the first sample] when the snapshot lists no such tensor."""
    shape = next((tensor.shape for tensor in reversed(message.tensors) if tensor.name == "input_ids"), None)
    return list(shape) if shape is not None else [len(message.input_ids.to_numpy())]  # the last one listed counts


def padded_length(message: InputSnapshot) -> int:
    """The sequence length the model attended over: the batch's input_ids last dimension, or the
    first sample's own length when the tensor list gives none that is positive (the list is
    informational: any shape can arrive there)."""
    shape = input_ids_shape(message)
    return int(shape[-1]) if shape and shape[-1] > 0 else len(message.input_ids.to_numpy())


def reference_audio(message: InputSnapshot):
    """Every sample needs a non-empty, non-constant reference clip that comes before its target."""
    count = max(len(message.sample_ids), max((s.sample + 1 for s in message.segments), default=0))
    if count == 0:
        return ("reference_audio", FAIL, "the batch has no samples and no audio segments: the snapshot is empty", 0)
    first = {"reference": {}, "target": {}}  # role -> sample -> its first segment of the role, in one pass
    for segment in message.segments:
        if segment.role in first:
            first[segment.role].setdefault(segment.sample, segment)
    problems = []
    reference_frames = []
    for sample in range(count):
        name = message.sample_ids[sample] if sample < len(message.sample_ids) else f"#{sample}"
        reference, target = first["reference"].get(sample), first["target"].get(sample)
        if reference is None:
            problems.append(f"sample {name} has no reference audio (the collator dropped the reference clip, or "
                            "labels it as a target; check the user turn's audio item)")
        elif reference.frames == 0:
            problems.append(f"sample {name} has an empty reference clip (0 frames; check the audio file)")
        elif reference.repeated_code_share >= REFERENCE_CONSTANT_SHARE:
            problems.append(f"sample {name}'s reference clip is constant: {reference.repeated_code_share:.0%} of its "
                            f"{reference.frames} frames carry one code (silence or a blank recording: no voice to "
                            "clone; check the audio file)")
        elif target is not None and reference.start >= target.start:
            problems.append(f"sample {name} has its reference after the target (positions {reference.start} vs "
                            f"{target.start}; the conversation order is wrong)")
        if target is None:
            problems.append(f"sample {name} has no target audio (nothing to clone into)")
        if reference is not None:
            reference_frames.append(reference.frames)
    if problems:
        more = f" (+{len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        return ("reference_audio", FAIL, "; ".join(problems[:SHOWN_PROBLEMS]) + more, len(problems))
    mean = sum(reference_frames) / len(reference_frames)
    return ("reference_audio", OK, f"all {count} samples have a non-empty reference clip (mean {mean:.0f} frames) "
            "before their target", round(mean, 1))


def reference_pairs(message: InputSnapshot):
    """The pair check's scores (AudioSegment.pair_similarity, measured at prepare time): a reference
    of another speaker, or one that is its target's own recording. No verdict when no reference
    carries a score (data prepared without the check, senders before protocol 1.3)."""
    scored = [(s.sample, s.pair_similarity) for s in message.segments if s.role == "reference" and s.pair_similarity >= 0]
    if not scored:
        return None

    def name(sample: int) -> str:
        return message.sample_ids[sample] if sample < len(message.sample_ids) else f"#{sample}"

    other = [f"{name(sample)} ({score:.2f})" for sample, score in scored if score < PAIR_SIMILARITY_OTHER_SPEAKER]
    leaked = [f"{name(sample)} ({score:.3f})" for sample, score in scored if score >= PAIR_SIMILARITY_SAME_RECORDING]
    problems = []
    if other:
        problems.append(f"{len(other)} reference(s) of another speaker: {', '.join(other)} (speaker similarity with "
                        f"the target below {PAIR_SIMILARITY_OTHER_SPEAKER}; the pairs were mismatched when the data set "
                        "was assembled: fix each sample's reference audio)")
    if leaked:
        problems.append(f"{len(leaked)} reference(s) that are the target's own recording: {', '.join(leaked)} "
                        f"(the same file, the same codes, or a similarity of {PAIR_SIMILARITY_SAME_RECORDING} or more, "
                        "which no two recordings reach: the model can copy the answer; give each a different clip "
                        "of the speaker)")
    if problems:
        return ("reference_pairs", FAIL, "; ".join(problems), len(other) + len(leaked))
    lowest = min(score for _, score in scored)
    return ("reference_pairs", OK, f"all {len(scored)} scored references are their target's speaker (lowest "
            f"similarity {lowest:.2f}) and none is the target's own recording", round(lowest, 4))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True: the places where the mask changes, plus its two ends
    when they are True."""
    if not len(mask):
        return []
    edges = ((mask[1:] != mask[:-1]).nonzero()[0] + 1).tolist()  # np.flatnonzero of a 1-D mask, without its wrapper
    if mask[0]:
        edges.insert(0, 0)
    if mask[-1]:
        edges.append(len(mask))
    return list(zip(edges[::2], edges[1::2]))


def _content_end(ids: np.ndarray, tokens: SpecialTokenIds) -> int:
    """One past the last token that is not trailing batch padding."""
    end = len(ids)
    while end > 0 and ids.item(end - 1) in tokens.padding:
        end -= 1
    return end


def special_tokens(ids: np.ndarray, tokens: SpecialTokenIds, num_codebooks: int | None, end: int):
    """`end`: `_content_end` of `ids` (found once for this check and `truncation`)."""
    problems = []
    if len(ids) == 0 or ids.item(0) != tokens.begin_of_text:
        first = tokens.name_of(ids.item(0)) if len(ids) else "nothing"
        problems.append(f"the sequence starts with {first}, not <|begin_of_text|> (the chat template was not applied, "
                        "or a BOS was added twice)")
    starts, ends = int(np.count_nonzero(ids == tokens.start_header)), int(np.count_nonzero(ids == tokens.end_header))
    if starts == 0 or starts != ends:
        problems.append(f"{starts} <|start_header_id|> vs {ends} <|end_header_id|> (role headers are broken)")
    delay = (num_codebooks or 1) - 1
    runs = _runs((ids == tokens.audio_out) | (ids == tokens.audio_in))
    faults = []  # (start, stop, what is wrong, its bos) per bad audio run: all counted, the first few worded
    for start, stop in runs:
        if stop + delay + 1 > end:
            continue  # runs into the end of the sequence: the truncation check reports it
        bos = tokens.audio_out_bos if ids.item(start) == tokens.audio_out else tokens.audio_in_bos
        if start == 0 or ids.item(start - 1) != bos:
            faults.append((start, stop, "bos", bos))
        if num_codebooks is not None:
            delays = ids[stop:stop + delay].tolist()
            if delays.count(tokens.audio_delay) != len(delays):
                faults.append((start, stop, "delay", bos))
        if int(ids[stop + delay]) != tokens.audio_eos:  # not .item(): a num_codebooks < 1 can index past the start
            faults.append((start, stop, "eos", bos))
    if problems or faults:
        count = len(problems) + len(faults)
        problems += [_run_problem(fault, tokens, delay) for fault in faults[:max(0, SHOWN_PROBLEMS - len(problems))]]
        more = f" (+{count - SHOWN_PROBLEMS} more)" if count > SHOWN_PROBLEMS else ""
        return ("special_tokens", FAIL, "; ".join(problems[:SHOWN_PROBLEMS]) + more, count)
    return ("special_tokens", OK, f"<|begin_of_text|> first, {starts} balanced role headers, {len(runs)} audio runs "
            f"each wrapped in bos / {delay} delay tokens / <|audio_eos|>", len(runs))


def _run_problem(fault: tuple[int, int, str, int], tokens: SpecialTokenIds, delay: int) -> str:
    start, stop, what, bos = fault
    if what == "bos":
        return f"audio run at {start}-{stop} is not preceded by {tokens.name_of(bos)}"
    if what == "delay":
        return (f"audio run at {start}-{stop} is not followed by {delay} delay tokens (num_codebooks - 1); "
                "the delay pattern expansion is wrong")
    return f"audio run at {start}-{stop} does not end with <|audio_eos|> after its delay tokens"


def truncation(ids: np.ndarray, tokens: SpecialTokenIds, end: int):
    """`end`: `_content_end` of `ids`."""
    if end == 0:
        return ("truncation", FAIL, "the first sample is all padding", None)
    last = ids.item(end - 1)
    if last == tokens.end_of_turn:
        return ("truncation", OK, f"the first sample ends with <|eot_id|> at position {end - 1}", end)
    if last in (tokens.audio_out, tokens.audio_in, tokens.audio_delay):
        return ("truncation", FAIL, f"the sequence ends inside an audio segment at position {end - 1} (no "
                "<|audio_eos|>): the sample was cut at the maximum length; raise it or drop longer samples", end)
    return ("truncation", FAIL, f"the sequence ends with {tokens.name_of(last)} instead of <|eot_id|>: the sample was "
            "truncated; raise the maximum sequence length or drop samples longer than it", end)
