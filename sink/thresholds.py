"""Every threshold the sink's analyses use, in one place, with the reasoning behind it.

The same values apply to every run and every test: a threshold is moved only with a reason
written here, never to make one run pass. `sink/README.md` shows them as a table.
"""

from __future__ import annotations

from stratlog.protocol.pair_similarity import PAIR_SIMILARITY_OTHER_SPEAKER

# --- Stream health --------------------------------------------------------------------------

STALL_HEARTBEATS = 3.0
"""A rank is stalled after this many heartbeat intervals without any message (PROTOCOL.md §2).
One missed heartbeat is scheduling noise (a long capture step, a GC pause); three in a row
means the rank's sending thread, or the rank, is stuck or dead."""

ENTRY_GRACE_S = 2.0
"""The snapshots of one step of one rank arrive as a burst; the human log writes them as one
entry once the rank moves on, ends, or this long (recorded receive times) after its last
snapshot. Capture of a step takes well under a second even at full size (notes: 85-231 ms for
attention, 70-100 ms for the swapped-reference forward), so two seconds never splits an entry
while still writing it out promptly when a rank goes quiet."""

# --- Trends ---------------------------------------------------------------------------------

TREND_MIN_CAPTURES = 3
"""A trend is judged only from the third capture of a series on: the first capture is the
baseline, and a change between two captures is as likely noise as learning."""

TREND_GRACE_STEPS = 30
"""...and only from 30 training steps after the run's start (the third capture at the default
interval of 10): graces are counted in steps, not captures, so a run captured every 5, 10 or 20
steps is judged at the same point of its training (at interval 20, from step 40: its third
capture). Before that a trend check is PENDING. A fresh model's early captures are noisy: in a
healthy demo run one codebook of the captured sample read 0 % at step 10 (interval 5) and step 20
(interval 10), above chance from step 30 on."""

# --- Metrics health -------------------------------------------------------------------------

LOSS_SMOOTHING = 0.1
"""Divergence compares an exponential moving average of the loss (weight 0.1 per logging step,
about the last 10 steps) with its running minimum, so one hard batch does not read as
divergence: single-batch losses of small batches swing by tens of percent."""

DIVERGENCE_WARN_FACTOR = 1.5
"""Smoothed loss 50 % above its running minimum: no schedule or data order explains a rise that
large once smoothed; it is the usual first sign of a too-high learning rate."""

DIVERGENCE_FAIL_FACTOR = 3.0
"""Smoothed loss three times its running minimum: training has thrown away most of what it
learned; stop and restart from a checkpoint with a lower learning rate."""

LR_FLOOR_FRACTION = 0.01
"""Outside warmup, a learning rate below 1 % of the configured peak is too low to train:
linear and cosine schedules stay above it until their last ~10 % of steps (cosine is at 2.4 %
at 90 % of training)."""

LR_FAIL_FRACTION = 0.001
"""Outside warmup and the decay tail, a learning rate below 0.1 % of the configured peak is a
FAIL, not a WARN: no schedule transformers offers is there before its final 10 % (cosine is
at 2.4 % at 90 %; linear at 10 %), and AdamW steps of lr-size then change the weights by less
than a thousandth of what the run was configured for: nothing trains (a scheduler that decays
to ~0 right after warmup, a learning rate given in the wrong unit)."""

LR_DECAY_TAIL_FRACTION = 0.1
"""The last 10 % of max_steps, where decaying schedules legitimately approach 0: not judged for
them (linear, cosine, ...: run_context.DECAYING_SCHEDULES). Under a constant schedule the lr has
no reason to fall there, so lr 0 stays a FAIL to the end."""

LR_ABSOLUTE_FLOOR = 1e-8
"""Without the run's training arguments, a learning rate below 1e-8 is too low for any
fine-tuning of a model this size (AdamW updates of ~lr per step would take 1e8 steps)."""

# --- Input ----------------------------------------------------------------------------------

DATA_OVERLAP_WARN = 0.5
"""Two ranks sharing more than half of their sample ids at one step: more than chance for any
real dataset; all of them shared means the distributed sampler is missing (FAIL)."""

RANK_STEPS_REMEMBERED = 64
"""Steps whose sample ids are kept to compare ranks (ranks may lag each other a little)."""

# --- Output ---------------------------------------------------------------------------------

ACCURACY_RISE_MIN = 0.01
"""From the third capture on, text accuracy should be at least one point above its first
capture; a model that learns anything moves that much within a few hundred steps."""

CHANCE_MULTIPLE = 2.0
"""A codebook whose accuracy is at most twice chance (1 / codec size) predicts codes no better
than guessing; from the third capture on that codebook's head is not learning."""

OFF_BY_ONE_MATCH_MIN = 0.5
"""Off-by-one labels: predictions equal the neighbouring label at >= 50 % of adjacent shown
positions, and at least twice as often as they equal their own label."""

LABEL_INPUT_MATCH_MIN = 0.9
"""Text labels are the input tokens themselves (the model shifts inside its loss), so a shown
label position p should hold input_ids[p] at (nearly) every position; at least 90 % of the
shown positions must. When labels equal input_ids[p - 1] at >= OFF_BY_ONE_MATCH_MIN of them
instead, the labels were shifted once too often: FAIL. Exact equality, not a trend, so it is
judged from the first capture on and cannot be noise."""

COLLAPSE_SHARE = 0.8
"""A predicted text where one token takes >= 80 % of the positions (and the target has no such
token) has collapsed onto a frequent token; real text never has one token that dominant."""

COLLAPSE_MIN_POSITIONS = 8
"""Collapse is judged only with at least 8 text positions (fewer are too few to call)."""

# --- Shared attention / DualFFN ---------------------------------------------------------------

ATTENTION_MASS_MIN = 0.01
"""Mean attention mass below 1 % between text and audio (or from target to reference audio)
means that path is practically disconnected: even uniform attention over a sequence where the
other kind is a tenth of the keys puts ~10 % on it."""

DEAD_HEAD_MAX_WEIGHT = 1e-6
"""Softmax rows sum to 1, so a head's largest weight is at least 1 / keys (>= 5e-4 at 2 048
tokens); below 1e-6 (or not finite) its output is zero or NaN: masked-out rows or overflow."""

UNIFORM_ENTROPY_FRACTION = 0.95
"""A head whose mean entropy reaches 95 % of uniform causal attention's (mean of log t over
query positions t) does not select anything. Padding makes the true uniform value lower, so
this errs towards calling a head selective."""

UNIFORM_HEADS_WARN_SHARE = 0.5
"""Half of the sampled heads uniform: attention is not selective; expected at initialisation,
a problem when it persists (learning rate, attention scaling). Judged as a persisting state, on
the mean share of the rank's latest CONDITIONING_WINDOW captures, from UNIFORM_HEADS_GRACE_STEPS
on (PENDING before), and only while it has not fallen by UNIFORM_HEADS_DROP_MIN since the first
capture: one capture's share of 16 sampled heads swings between 0 and 0.6 in a healthy run."""

UNIFORM_HEADS_GRACE_STEPS = 60
"""The healthy demo's random-weight model keeps (nearly) every sampled head uniform up to step
20-30 and about half of them from step 40 on (intervals 5, 10 and 20 alike); from step 60 the
latest 5 captures at interval 10 start after that phase. A pre-trained model is selective from
its first capture, so the wait only matters for a model trained from scratch."""

UNIFORM_HEADS_DROP_MIN = 0.25
"""A uniform-head share that fell by a quarter of the sampled heads since the first capture means
attention is learning to select (the healthy demo: 100 % at step 1, a mean of 35-60 % from step
30 on, its tiny random-weight model keeping about half of its heads broad); a broken attention
scaling or a learning rate too low to train keeps (nearly) every head uniform, a drop near 0."""

FFN_UPDATE_RATIO_MAX = 0.1
"""An FFN whose weights move by more than 10 % of their norm in one step is being overwritten,
not fine-tuned (typical AdamW steps move weights by 1e-4 to 1e-2 of their norm). Judged from
TREND_GRACE_STEPS on (PENDING before): AdamW's first steps, with moment estimates of a handful
of gradients, move every weight by about the learning rate whatever its gradient (the healthy
demo at the end of its warmup, step 5: > 10 % in every layer of its random-weight model; by step
10 below it)."""

REFERENCE_CONSTANT_SHARE = 0.8
"""A reference clip whose codebook-0 code is the same in 80 % or more of its frames is constant
(silence, a stuck or blank recording) and carries no voice: FAIL naming the sample. Demo clips:
at most 44 % (median 15 %) of a clip's frames share one code; encoded silence: 95 % (its edge
frames differ). A clip at 80 % is at least 80 % silence (or one sound held throughout)."""

# The pair check's two thresholds (PAIR_SIMILARITY_*) live in protocol/pair_similarity.py: the
# trainer names the pairs they flag at prepare time, the input analysis at every capture.

# --- Zero-shot --------------------------------------------------------------------------------

CONDITIONING_EFFECT_MIN = 0.01
"""Swapped-reference loss minus true-reference loss, in nats: above 0.01 the model measurably
uses the reference voice; at or below it the reference makes no difference (yet)."""

CONDITIONING_EFFECT_FAIL = -0.05
"""A mean effect below -0.05 nats from the third capture on: the "true" references fit worse
than other speakers' clips, which points at mispaired reference / target samples."""

REFERENCE_GRACE_STEPS = 200
"""From 200 training steps after the run's start on, an effect whose mean over the rank's latest
CONDITIONING_WINDOW captures is at or below CONDITIONING_EFFECT_MIN, and never was above it in any
such window of any rank of the run (the ranks train one model: one rank's effect shows that the
reference reaches it), while the model is learning audio (see AUDIO_LEARNING_DROP), is a FAIL: the model
learns the target audio but takes nothing from the reference, so the reference carries no voice
(silence, a wrong clip) or never reaches the model. Before that step an effect at or below the
minimum (the rank's, a speaker's or a language pair's) is PENDING, not a verdict. A window that
was above the minimum once shows the reference reaches the model: a later dip is not "ignored"
(a lasting fall is the conditioning trend's WARN).
Counted in steps (15 captures was step 70 at interval 5, where healthy runs had not yet learned
the voice: FAIL at steps 70-95 in 3 of 3 runs). Measured on the tiny model trained from random
weights (lr 5e-3): the demo's voices are used from step ~80-100 (window means 0.023-0.050 at step
140, four seeds); espeak-ng speech (tests/diagnostics/espeak_data.py) from step ~110-170 (one rank's
window was 0.0055 at step 140 and first above 0.01 at step 170; with the clips' durations in the
data set, one rank's stayed at 0.004 through step 200 while the other's passed 0.01 at step 190);
a silent reference stays at or
below 0.006 through step 250 (window means below 0.005). A fine-tune of a pre-trained voice-cloning
model shows the effect from its first capture, so 200 steps is a generous wait."""

AUDIO_LEARNING_DROP = 0.25
"""The model is learning audio once its true-reference target-audio loss is 25 % below the first
capture's (the demo: ~6.9 nats at step 1, below 4 by step 30): before that, "no effect" only
means "not trained yet"."""

CONDITIONING_DROP_WARN = 0.05
"""The effect falling by more than 0.05 nats from its first capture means the model is
learning to ignore the reference."""

CONDITIONING_WINDOW = 5
"""A rank's effect is judged on the mean of its latest 5 per-capture means (batch means), so a
single 4-sample batch does not decide its verdict."""

GROUP_MEASUREMENTS = 10
"""A speaker's or language pair's effect is judged on the mean of its latest 10 measurements
(single samples, all ranks), and only once it has 10: one sample's effect is far noisier than a
batch mean and skewed (a healthy demo speaker after step 100: 0.001-0.04 most of the time, 0.1-0.2
now and then; means of 5 dipped to 0.003-0.009 where every speaker's mean of 9-15 was 0.019-0.09),
while a speaker whose clips carry no voice stays near 0 in every one."""

# --- SIM trend (--audio-tokenizer with stratlog[voice]) ----------------------------------------

SIM_WINDOW = 5
"""SIM is judged on means of 5 captures of the run (all ranks: they train one model), the latest
against the first, so one decoded sample (one clip per capture and rank) does not decide."""

SIM_GAP_WARN = 0.1
"""The gap from SIM(reference, prediction) up to SIM(reference, target), the same speaker through
the same codec (the ceiling): a latest-window gap above 0.1 is a prediction that does not yet sound
like the reference's speaker. Measured GE2E cosines (PAIR_SIMILARITY_OTHER_SPEAKER): same speaker
mean 0.88, min 0.77; different speakers mean 0.58 (espeak-ng voices: 0.97 vs 0.77), so a voice
0.1 below the ceiling is at the edge of the same-speaker spread and one of another speaker sits
0.2-0.3 below it. A gap within 0.1 is never a WARN: the prediction already has the voice."""

SIM_RISE_MIN = 0.02
"""...and a WARN only when that gap has not narrowed by 0.02 since the run's first SIM_WINDOW
captures, after REFERENCE_GRACE_STEPS: the model had its time to learn voices and its prediction
came no closer to the reference's. 0.02 is about the spread of a 5-capture mean of one voice's
cosines (espeak-ng same voice: 0.949-0.989 per pair)."""

SIM_CEILING_MIN = PAIR_SIMILARITY_OTHER_SPEAKER
"""A ceiling below the pair check's threshold (the decoded target no longer sounds like its own
reference: a codec that loses the voice, or a mispaired sample) leaves SIM nothing to judge by."""
