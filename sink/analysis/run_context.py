"""What the analyses need to know about a run: its `run_start`, its text tokenizer, and the
latest snapshot of each kind its ranks sent.

`RunContext` is the second argument of every analysis (`evaluate(message, context)`), so the
state analyses share lives here and nowhere else: the output analysis compares its labels with
the same step's input ids, the attention analysis takes that step's sequence length. Checks
that need a fact the run did not give (no tokenizer, no codec size) say so in their finding
instead of guessing. Token ids are looked up by name in the run's own tokenizer, so a real
Higgs checkpoint and the embedded tiny one are handled alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from stratlog.protocol import RunStart, TokenizerIdentity, higgs_tokens
from stratlog.sink.printable import Escapes, escaped
from stratlog.sink.thresholds import LR_DECAY_TAIL_FRACTION

if TYPE_CHECKING:
    from stratlog.sink.token_decoding import TokenDecoder

DECAYING_SCHEDULES = frozenset({"linear", "cosine", "cosine_with_restarts", "polynomial", "cosine_with_min_lr",
                                "cosine_warmup_with_min_lr", "warmup_stable_decay"})
"""transformers' lr_scheduler_type values whose learning rate falls towards 0 (or their minimum)
at the end of max_steps. The others keep it (constant, constant_with_warmup), fall slowly all the
way (inverse_sqrt) or fall on a plateau at any step (reduce_lr_on_plateau): no final decay."""


@dataclass(frozen=True)
class SpecialTokenIds:
    """Ids of the Higgs chat-template tokens the input structure check looks for."""

    begin_of_text: int
    start_header: int
    end_header: int
    end_of_turn: int
    audio_out: int
    """``<|AUDIO_OUT|>``: one per frame of generated (assistant) audio."""
    audio_out_bos: int
    audio_in: int
    """``<|AUDIO|>``: one per frame of audio given as input."""
    audio_in_bos: int
    audio_eos: int
    audio_delay: int
    """Fills the num_codebooks - 1 delay-pattern positions after each audio run."""
    padding: frozenset[int] = frozenset()
    """Ids that may trail a sample as batch padding."""

    NAMES = {
        "begin_of_text": higgs_tokens.BEGIN_OF_TEXT, "start_header": higgs_tokens.START_HEADER,
        "end_header": higgs_tokens.END_HEADER, "end_of_turn": higgs_tokens.END_OF_TURN,
        "audio_out": higgs_tokens.AUDIO_OUT, "audio_out_bos": higgs_tokens.AUDIO_OUT_BOS,
        "audio_in": higgs_tokens.AUDIO_IN, "audio_in_bos": higgs_tokens.AUDIO_IN_BOS,
        "audio_eos": higgs_tokens.AUDIO_EOS, "audio_delay": higgs_tokens.AUDIO_DELAY,
    }

    @classmethod
    def from_vocabulary(cls, special: dict[str, int], model_config: dict[str, Any]) -> SpecialTokenIds | None:
        """None when the tokenizer lacks one of the names (not a Higgs tokenizer)."""
        ids = {field_name: special.get(token) for field_name, token in cls.NAMES.items()}
        if isinstance(model_config.get("audio_delay_token_id"), int):
            ids["audio_delay"] = model_config["audio_delay_token_id"]
        if any(value is None for value in ids.values()):
            return None
        padding = {special[name] for name in (higgs_tokens.END_OF_TEXT,) if name in special}
        if isinstance(model_config.get("pad_token_id"), int):
            padding.add(model_config["pad_token_id"])
        return cls(**ids, padding=frozenset(padding))

    def name_of(self, token: int) -> str:
        return self._names.get(token, f"id {token}")

    @cached_property
    def _names(self) -> dict[int, str]:
        """Id -> token name, built once: the first name in NAMES order where two share an id."""
        names: dict[int, str] = {}
        for field_name, name in self.NAMES.items():
            names.setdefault(getattr(self, field_name), name)
        return names


@dataclass
class RunContext:
    """Per-run facts; a run whose `run_start` never arrived gets the defaults (unknowns)."""

    run_id: str
    model_config: dict[str, Any] = field(default_factory=dict)
    training_args: dict[str, Any] = field(default_factory=dict)
    tokenizer_path: str = ""
    tokenizer_identity: TokenizerIdentity = field(default_factory=TokenizerIdentity)
    """What the run start says of the run's tokenizer (all "not given" before protocol 1.2)."""
    tokens: SpecialTokenIds | None = None
    """None when neither the run start nor a loaded tokenizer gives the Higgs special tokens."""
    tokenizer_checked: bool = False
    decoder: TokenDecoder | None = None
    """The run's text tokenizer (set by the pipeline with `tokens`), None without one or when the
    one the sink has is not the run's."""
    no_decoder_reason: str = ""
    """Why ids are shown raw, when it is not simply the lack of a tokenizer."""
    latest: dict[tuple[int, type], Any] = field(default_factory=dict)
    """(rank, snapshot class) -> that rank's latest snapshot of the class (`remember`)."""
    capture_interval: int | None = None
    """Snapshots come at step 1 and every `capture_interval` steps (None: no run start yet)."""

    @classmethod
    def from_run_start(cls, message: RunStart, earlier: RunContext | None = None) -> RunContext:
        """`earlier`: the run's context before this rank's run start; the snapshots the other ranks
        sent outlive one rank's (re)start."""
        return cls(run_id=message.run_id, model_config=dict(message.model_config), training_args=dict(message.training_args),
                   tokenizer_path=message.tokenizer_path, tokenizer_identity=message.tokenizer_identity,
                   latest=earlier.latest if earlier is not None else {}, capture_interval=message.capture_interval or None)

    def remember(self, snapshot) -> None:
        """Called by the pipeline with every snapshot, before it is analysed."""
        self.latest[(snapshot.rank, type(snapshot))] = snapshot

    def same_step(self, message, snapshot_class: type):
        """The snapshot of `snapshot_class` that `message`'s rank sent for `message`'s step, or None."""
        snapshot = self.latest.get((message.rank, snapshot_class))
        return snapshot if snapshot is not None and snapshot.step == message.step else None

    def judged_from(self, first_step: int, grace_steps: int, min_captures: int = 1) -> int:
        """The capture step from which a check with a grace of `grace_steps` training steps is
        judged: the first capture at least `grace_steps` steps after the run's start (the step
        before its first capture, `first_step`: 0 for a fresh run, the checkpoint's step for a
        resumed one), and not before its `min_captures`-th capture. Counted in steps, so a run
        captured every 5, 10 or 20 steps is judged at the same point of its training."""
        start = first_step - 1
        interval = self.capture_interval
        if not interval:  # no run start: judged on steps alone
            return max(start + grace_steps, first_step)
        due = max(start + grace_steps, start + (min_captures - 1) * interval, first_step)
        return due if due == first_step else -(-due // interval) * interval  # captures fall on multiples of it

    def render(self, ids, escapes: Escapes = ()) -> str:
        """Token ids as readable text with the run's tokenizer, or raw when it has none (ids of
        any shape, read in order: a sender's wrong shape must not stop the log), with `escapes`
        made (`printable.escaped`; the decoder makes them before decoding, where they cost less)."""
        if self.decoder is None:
            reason = self.no_decoder_reason or f"no tokenizer for run {self.run_id}"
            return escaped(f"<{reason}: ids shown raw> {np.asarray(ids).reshape(-1).tolist()}", escapes)
        return self.decoder.render(ids, escapes)

    @property
    def num_codebooks(self) -> int | None:
        return _int(self.model_config.get("num_codebooks"))

    @property
    def codec_size(self) -> int | None:
        """Codes per codebook of the codec: the model's codebook_size holds 2 more (stream BOS, EOS)."""
        size = _int(self.model_config.get("codebook_size"))
        return size - 2 if size and size > 2 else None

    @property
    def stream_eos(self) -> int | None:
        eos = _int(self.model_config.get("audio_stream_eos_id"))
        if eos is None and self.codec_size is not None:
            eos = self.codec_size + 1
        return eos

    @property
    def peak_learning_rate(self) -> float | None:
        value = self.training_args.get("learning_rate")
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    @property
    def max_steps(self) -> int | None:
        steps = _int(self.training_args.get("max_steps"))
        return steps if steps and steps > 0 else None

    @property
    def warmup_steps(self) -> int:
        """Trainer's rule: warmup_steps (a fraction of max_steps when below 1, as transformers 5
        allows), else ceil(warmup_ratio * max_steps). A value that is not a finite number (the
        training arguments are a free-form map) counts as not given."""
        steps = _finite(self.training_args.get("warmup_steps"))
        ratio = _finite(self.training_args.get("warmup_ratio"))
        if isinstance(steps, float) and 0 < steps < 1:
            steps, ratio = 0, steps
        if steps <= 0 and isinstance(ratio, (int, float)) and ratio > 0 and self.max_steps:
            steps = math.ceil(min(ratio, 1.0) * self.max_steps)  # past 1 the whole run warms up; and no inf
        return max(int(steps), 0)

    @property
    def schedule_decays(self) -> bool:
        """Whether the run's lr schedule ends in a decay towards 0; without the argument, Trainer's
        default (linear) does. An enum's spelling ("SchedulerType.COSINE") is read too."""
        name = self.training_args.get("lr_scheduler_type", "linear")
        return str(name).rsplit(".", 1)[-1].lower() in DECAYING_SCHEDULES

    def in_decay_tail(self, step: int) -> bool:
        """In the last LR_DECAY_TAIL_FRACTION of max_steps of a schedule that decays: a learning
        rate near 0 is its design there. Under a constant schedule lr 0 is a fault to the end."""
        return step > self.decay_tail_after

    @property
    def decay_tail_after(self) -> float:
        """The step after which `in_decay_tail` holds (inf: never)."""
        max_steps = self.max_steps
        return (1 - LR_DECAY_TAIL_FRACTION) * max_steps if self.schedule_decays and max_steps is not None else math.inf


def _finite(value: Any) -> float | int:
    """`value` if it is a finite number, else 0."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else 0


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
