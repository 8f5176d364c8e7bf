"""The sink's exports to the tools users already have (TensorBoard, W&B): `--report-to`.

The ranks never pay for them: the sink turns what it receives into records (`records`) and hands
each target's to its own thread (`handoff`), which a slow or dead target can block without
stalling the sink; what the targets fall behind is counted and reported (`reporter`).
"""
