"""Run lifecycle and scalar messages: run start, metrics, error event, heartbeat, run end.

These are small and frequent (metrics every ``logging_steps``, heartbeats every few seconds),
so they hold scalars and short strings only; numeric tables travel in the snapshot kinds.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import msgspec
from msgspec import Meta

from stratlog.protocol.envelope import Envelope
from stratlog.protocol.limits import MAX_ITEMS, Count, FloatMap, FreeFormMap, IntList, Text


class TokenizerIdentity(msgspec.Struct, kw_only=True):
    """Which text tokenizer a run uses, so a sink can tell whether the one it decodes ids with is
    the same: a tokenizer with another vocabulary decodes every id to the wrong text, with
    confidence. Every field's default means "not given" (a sender before 1.2)."""

    vocabulary_size: Count = 0
    """Ids the tokenizer knows, added tokens included; 0: not given."""
    special_tokens: Annotated[dict[Text, Count], Meta(max_length=MAX_ITEMS)] = {}
    """Special token -> its id (every added token marked special)."""
    digest: Text = ""
    """``vocabulary_digest`` of the whole vocabulary, added tokens included; "": not given."""

    @classmethod
    def of(cls, tokenizer) -> TokenizerIdentity:
        """The identity of a `tokenizers.Tokenizer` (used by its methods only: no import here)."""
        special = {token.content: index for index, token in tokenizer.get_added_tokens_decoder().items() if token.special}
        return cls(vocabulary_size=tokenizer.get_vocab_size(with_added_tokens=True), special_tokens=special,
                   digest=vocabulary_digest(tokenizer.get_vocab(with_added_tokens=True)))


def vocabulary_digest(vocabulary: dict[str, int]) -> str:
    """``sha256:`` and the hex SHA-256 of every (token, id) of `vocabulary`, in ascending id order
    (ties: token bytes), each written as the id in decimal ASCII, a space, the byte length of the
    token's UTF-8, a space, those bytes and a newline (the length keeps any token text unambiguous)."""
    digest = hashlib.sha256()
    for index, token in sorted((index, token.encode("utf-8")) for token, index in vocabulary.items()):
        digest.update(b"%d %d %s\n" % (index, len(token), token))
    return "sha256:" + digest.hexdigest()


class RunStart(Envelope, kw_only=True, tag="run_start"):
    """First message of every rank: what is trained, with what, and how capture is set up."""

    model_path: Text
    """Model directory (or hub id) as given to the trainer."""
    tokenizer_path: Text
    """Text tokenizer directory the sink should load to decode token ids."""
    audio_tokenizer_path: Text
    """Audio tokenizer (codec) directory."""
    model_config: FreeFormMap
    """The model's config as a JSON-like map (``config.to_dict()``)."""
    training_args: FreeFormMap
    """The training arguments as a JSON-like map."""
    hostname: Text
    """Host the rank runs on."""
    pid: Count
    """Process id of the rank."""
    capture_interval: Count
    """Snapshots are captured at step 1 and every ``capture_interval`` steps."""
    capture_ranks: IntList
    """Ranks that capture snapshots; empty means all ranks."""
    heartbeat_interval_s: float = 5.0
    """Seconds between heartbeats of an idle rank; the sink reports a stall after 3 intervals."""
    tokenizer_identity: TokenizerIdentity = msgspec.field(default_factory=TokenizerIdentity)
    """The run's text tokenizer, for a sink to check its own against. Added in 1.2."""


class Metrics(Envelope, kw_only=True, tag="metrics"):
    """Scalar training metrics of one logging step."""

    values: FloatMap
    """Name -> value, e.g. loss, text_loss, audio_loss, learning_rate, grad_norm,
    tokens_per_second, step_time_s, memory_bytes. Absent names were not measured."""


class ErrorEvent(Envelope, kw_only=True, tag="error"):
    """An exception caught on the rank (capture code, send path); training went on."""

    where: Text
    """Component that failed, e.g. ``capture.attention``."""
    error_type: Text
    """Exception class name."""
    message: Text
    """Exception message, truncated by the sender to fit the string cap."""
    count: Count
    """How many times this (where, error_type) has happened on this rank so far, this one
    included; a sender that rate-limits its events still reports the total."""


class Heartbeat(Envelope, kw_only=True, tag="heartbeat"):
    """Sent every ``heartbeat_interval_s`` seconds so the sink can tell idle from stalled."""

    queue_depth: Count = 0
    """Messages waiting in the sender's own queue (0 if it has none)."""


class RunEnd(Envelope, kw_only=True, tag="run_end"):
    """Last message of a rank."""

    status: Text
    """``completed``, ``failed`` or ``interrupted``."""
    messages_sent: Count
    """Messages this rank handed to the transport before this one."""
    messages_dropped: Count
    """Messages this rank dropped during the run (``seq`` of this message is normally
    ``messages_sent + messages_dropped``)."""
