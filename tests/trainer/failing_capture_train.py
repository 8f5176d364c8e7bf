"""train_v2_ddp.py with the zero-shot capture made to fail: the real trainer, one planted fault.
Used by tests/trainer/test_capture_e2e.py (run as a plain single-process script)."""

import sys

import stratlog.trainer.strategic.callbacks as callbacks


def planted_failure(*args, **kwargs):
    raise RuntimeError("planted capture failure")


callbacks.zero_shot_snapshot_fields = planted_failure

from stratlog.trainer.train_v2_ddp import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
