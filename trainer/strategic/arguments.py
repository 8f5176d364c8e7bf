"""The seed's strategic-logging flags (and ours around them), for `HfArgumentParser`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class StrategicLoggingArguments:
    enable_strategic_logging: bool = field(default=False, metadata={"help": "Send strategic snapshots to the sink."})
    strategic_logging_steps: int = field(default=100, metadata={"help": "Capture at step 1 and every N optimizer steps."})
    strategic_sink_address: str = field(
        default="tcp://127.0.0.1:5560", metadata={"help": "ZeroMQ address the sink binds (ranks connect PUSH to it)."}
    )
    strategic_ranks: str = field(
        default="all", metadata={"help": "Ranks that capture snapshots: 'all' or a list like '0' or '0,4'. "
                                         "Every rank still sends run start, metrics, heartbeats and run end."}
    )
    strategic_attention_layers: str = field(
        default="4", metadata={"help": "Layers whose attention is measured: a count (evenly spaced), indices '0,13,-1', or 'all'."}
    )
    strategic_attention_heads: str = field(default="all", metadata={"help": "Heads measured: 'all' or indices '0,1,7'."})
    strategic_sink_key: str = field(
        default="", metadata={"help": "The sink's public CURVE key file (NAME.key from `stratlog keys`), for a sink "
                                      "started with --curve-secret; default: $STRATLOG_SINK_KEY. Empty = plain TCP."}
    )
    strategic_client_key: str = field(
        default="", metadata={"help": "This rank's CURVE key pair (NAME.key_secret) whose public key the sink lists "
                                      "in --curve-clients; default: $STRATLOG_CLIENT_KEY."}
    )
    strategic_spool_dir: str = field(
        default="", metadata={"help": "Also write every message to <dir>/spool-rank<R>-<run id>.stratrec (replayable), "
                                      "so nothing is lost when no sink runs. Empty = off."}
    )

    def __post_init__(self):
        if self.strategic_logging_steps < 1:
            raise ValueError(f"--strategic_logging_steps must be >= 1, got {self.strategic_logging_steps}")
        self.capture_ranks()  # validates --strategic_ranks
        self.strategic_sink_key = self.strategic_sink_key or os.environ.get("STRATLOG_SINK_KEY", "")
        self.strategic_client_key = self.strategic_client_key or os.environ.get("STRATLOG_CLIENT_KEY", "")
        if bool(self.strategic_sink_key) != bool(self.strategic_client_key):
            raise ValueError("--strategic_sink_key and --strategic_client_key go together (or $STRATLOG_SINK_KEY and "
                             "$STRATLOG_CLIENT_KEY): the sink's public key and this rank's key pair")

    def capture_ranks(self) -> list[int]:
        """The capturing ranks; empty means all."""
        if self.strategic_ranks.strip() == "all":
            return []
        try:
            ranks = sorted({int(part) for part in self.strategic_ranks.split(",")})
        except ValueError:
            raise ValueError(f"--strategic_ranks: expected 'all' or comma-separated ranks, got {self.strategic_ranks!r}") from None
        if any(rank < 0 for rank in ranks):
            raise ValueError(f"--strategic_ranks: ranks are >= 0, got {self.strategic_ranks!r}")
        return ranks
