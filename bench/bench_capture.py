"""Benchmark of strategic capture's cost to training (issue 5, SPEC §8).

(a) Tiny demo on CPU, 2 torchrun ranks: training throughput (optimizer steps per second of
    Trainer's own train_runtime, which excludes start-up) with strategic logging off, at
    N=100 and at N=10, in one run, interleaved and repeated so machine noise shows.
(b) The training thread's cost of handing one full-size snapshot (the four snapshots of a
    2 048-token step) to the publisher: p50 / p99 of `SnapshotPublisher.send`, with a real sink
    process up, with no sink at all, and with the sink stopped by SIGSTOP.
Goals: <= 2 % throughput cost at N=100 on CPU; hand-off p99 <= 200 µs in all three states.
(c) The full-size model on a GPU is not measured here: this machine has none.
(d) `--parts`: what each part of a capture step costs, in one process on one thread, against a
    training step of the same tiny model and a 4-sample batch.

Run:   python bench/bench_capture.py [--steps 300] [--repeats 2] [--write]
       python bench/bench_capture.py --parts
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.demo import DemoConfig, demo_train_args
from stratlog.protocol import Envelope
from stratlog.protocol.examples import FULL_SIZE, example_snapshots
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from stratlog.training_process import torchrun_command

HANDOFFS = 2000
"""Snapshots handed off per sink state; one every HANDOFF_GAP_S, like a capture-heavy run."""
HANDOFF_GAP_S = 0.002


def nowhere(folder: str) -> str:
    """The endpoint for runs without a sink: a socket file in a folder this run just made, so
    nothing can be listening there and no free port has to be found. With no peer the publisher's
    socket only queues and drops, the same on any transport."""
    return f"ipc://{folder}/no-sink"


def throughput(assets, steps: int, interval: int | None) -> float:
    """Optimizer steps per second over Trainer's train_runtime (start-up excluded)."""
    with tempfile.TemporaryDirectory() as out:
        flags = ["--enable_strategic_logging", "false"] if interval is None else []
        config = DemoConfig(out=Path(out), max_steps=steps, capture_interval=interval or 10)
        args = demo_train_args(assets, config, nowhere(out)) + flags
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        result = subprocess.run(torchrun_command(2, args), capture_output=True, text=True, env=env, check=True)
    runtime = float(re.search(r"'train_runtime': '([0-9.]+)'", result.stdout + result.stderr).group(1))
    return steps / runtime


def handoff_times(address: str) -> np.ndarray:
    """Microseconds per send() of the four full-size snapshots, one capture step each."""
    snapshots = example_snapshots(FULL_SIZE)
    fields = [(type(m), {f: getattr(m, f) for f in m.__struct_fields__ if f not in Envelope.__struct_fields__}) for m in snapshots]
    publisher = SnapshotPublisher(PublisherConfig(address=address, run_id="bench", rank=0, world_size=1))
    times = []
    for step in range(HANDOFFS):
        start = time.perf_counter()
        for message_type, content in fields:
            publisher.send(message_type, step=step, **content)
        times.append((time.perf_counter() - start) * 1e6)
        time.sleep(HANDOFF_GAP_S)
    publisher.close()
    return np.array(times)


def handoff_report() -> list[tuple[str, float, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        address_file = Path(folder) / "address"
        sink = subprocess.Popen([sys.executable, "-m", "stratlog.cli", "sink", "--bind", "tcp://127.0.0.1:0",
                                 "--log-dir", str(Path(folder) / "logs"), "--address-file", str(address_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the sink binds a port of its choosing and writes the address
        try:
            address = address_file.read_text()
            times = handoff_times(address)
            rows.append(("sink up", *np.percentile(times, [50, 99, 100])))
            os.kill(sink.pid, signal.SIGSTOP)
            times = handoff_times(address)
            rows.append(("sink stopped (SIGSTOP)", *np.percentile(times, [50, 99, 100])))
        finally:
            os.kill(sink.pid, signal.SIGCONT)
            sink.terminate()
            sink.wait()
        times = handoff_times(nowhere(folder))
        rows.append(("no sink", *np.percentile(times, [50, 99, 100])))
    return rows


def capture_parts() -> list[tuple[str, float]]:
    """Milliseconds per call of each capture part, and of one training step, on one thread."""
    import torch
    from transformers import AutoTokenizer

    from stratlog.trainer.data.batching import VoiceCloningCollator
    from stratlog.trainer.embedded import prepare_demo
    from stratlog.trainer.loss import compute_loss
    from stratlog.trainer.model import HiggsVoiceCloningModel
    from stratlog.trainer.data.samples import VoiceCloningSample
    from stratlog.trainer.data.sequences import AudioTokenIds, SequenceBuilder
    from stratlog.trainer.strategic.attention_capture import AttentionProbe
    from stratlog.trainer.strategic.batch_layout import batch_layout
    from stratlog.trainer.strategic.dualffn_capture import DualFfnProbe
    from stratlog.trainer.strategic.output_capture import output_snapshot_fields
    from stratlog.trainer.strategic.zero_shot_capture import ReferenceSwap, target_audio_losses, zero_shot_snapshot_fields

    torch.set_num_threads(1)
    model_dir = prepare_demo().model_dir
    model = HiggsVoiceCloningModel.from_pretrained(model_dir, use_text_head=True).train()
    ids = AudioTokenIds.from_config(model.config)
    builder, rng = SequenceBuilder(AutoTokenizer.from_pretrained(model_dir), ids), np.random.default_rng(0)
    examples = [builder.build(VoiceCloningSample(f"s{i}", f"spk{i % 3}", "en", "Speak in the voice heard in the reference clip.",
                                                 "the river was calm that morning", None, "bring the lantern up the hill", None),
                              rng.integers(0, 1024, (8, 55)), rng.integers(0, 1024, (8, 52))) for i in range(4)]
    batch = VoiceCloningCollator(ids)(examples)
    audio_ids = (model.config.audio_token_id, model.config.audio_delay_token_id)
    layout = batch_layout(batch, audio_ids, ids.num_codebooks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    probe = AttentionProbe(model, [0, 1, 2, 3], [0, 1, 2, 3])
    masks = {name: torch.from_numpy(mask) for name, mask in layout.position_masks(0).items()}
    ffn = DualFfnProbe(model)

    def training_step():
        optimizer.zero_grad()
        compute_loss(model(**batch)).total.backward()
        optimizer.step()

    def probed_forward():
        probe.arm(0, masks)
        with torch.no_grad():
            model(**batch)
        probe.disarm()

    def plain_forward():
        with torch.no_grad():
            model(**batch)

    def ms(function, calls: int = 20) -> float:
        function()
        start = time.perf_counter()
        for _ in range(calls):
            function()
        return (time.perf_counter() - start) / calls * 1000

    output = model(**batch)
    training_step()  # leaves gradients for the DualFFN norms
    swap = ReferenceSwap(ids)

    def zero_shot():
        """True losses from the training forward's output (no forward), one swapped forward, the fields."""
        true_losses = target_audio_losses(output, len(examples))
        zero_shot_snapshot_fields(batch, true_losses, swap.measure(model, batch, layout))

    return [
        ("training step (forward, backward, AdamW)", ms(training_step)),
        ("no-grad forward of the batch (for scale)", ms(plain_forward)),
        ("zero-shot: true losses from the training logits + one swapped-reference forward", ms(zero_shot, 10)),
        ("attention probe, 4 layers x 4 heads (over a no-grad forward)", ms(probed_forward) - ms(plain_forward)),
        ("output tables", ms(lambda: output_snapshot_fields(output))),
        ("DualFFN norms and update ratios", ms(lambda: (ffn.before_optimizer_step(), ffn.update_ratios()))),
        ("batch layout", ms(lambda: batch_layout(batch, audio_ids, ids.num_codebooks))),
    ]


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parts", action="store_true", help="Only time each part of a capture step (d).")
    args = parser.parse_args()
    if args.parts:
        for name, value in capture_parts():
            print(f"| {name} | {value:.2f} ms |")
        return
    from stratlog.trainer.embedded import prepare_demo

    assets = prepare_demo()
    throughput(assets, 20, None)  # warm the audio-code cache and the OS file cache
    runs: dict[str, list[float]] = {"off": [], "N=100": [], "N=10": []}
    for _ in range(args.repeats):
        for name, interval in (("off", None), ("N=100", 100), ("N=10", 10)):
            runs[name].append(throughput(assets, args.steps, interval))
    handoff = handoff_report()
    off = statistics.mean(runs["off"])
    lines = [
        f"{measured_on(f'python bench/bench_capture.py --steps {args.steps} --repeats {args.repeats}')}.",
        "",
        f"(a) Tiny demo model, 2 torchrun CPU ranks (gloo), batch 4 per rank, {args.steps} optimizer steps per run; "
        "steps/s over Trainer's train_runtime; runs interleaved (off, N=100, N=10) x repeats.",
        "",
        "| strategic logging | steps/s (each run) | mean | ratio to off | cost |",
        "|---|---|---:|---:|---:|",
    ]
    for name, values in runs.items():
        mean = statistics.mean(values)
        lines.append(f"| {name} | {', '.join(f'{v:.2f}' for v in values)} | {mean:.2f} | {mean / off:.3f} | {100 * (1 - mean / off):.1f} % |")
    lines += [
        "",
        f"(b) Hand-off of one capture step's four full-size snapshots (2 048 tokens, 28 x 24 attention tables) to "
        f"`SnapshotPublisher.send` on the training thread, {HANDOFFS} steps, one every {HANDOFF_GAP_S * 1000:.0f} ms.",
        "",
        "| sink state | p50 µs | p99 µs | max µs | goal p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {state} | {p50:.0f} | {p99:.0f} | {worst:.0f} | 200 |" for state, p50, p99, worst in handoff]
    lines += ["", "(c) Full-size model on one H100/H200: not measured — no GPU was lent to this task."]
    publish("Capture", "\n".join(lines), write=args.write)
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
