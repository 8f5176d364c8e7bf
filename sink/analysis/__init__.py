"""The sink's analyses: each turns messages of one kind into `sink.findings.Finding`s.

`stream` (sequence gaps, drops, stalls, bad frames, run end), `metrics` (NaN loss, zero grad
norm, learning rate, divergence), and the four strategic loggers of the seed: `input`,
`output`, `attention` (shared attention / DualFFN) and `zero_shot`. `run_context` holds what a
run's `run_start` says that the analyses need; `history` keeps the per-rank series that trends
are judged on. No analysis reads a clock: replay must give the same verdicts.
"""
