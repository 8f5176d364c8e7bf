"""What a pair's `AudioSegment.pair_similarity` says (the speaker-embedding cosine of a sample's
reference and its target, scored at prepare time): its two thresholds live beside the field
because both ends judge by them — the trainer names the flagged samples when it prepares the data
set, the sink's input analysis at every capture."""

PAIR_SIMILARITY_OTHER_SPEAKER = 0.75
"""A reference whose GE2E speaker-embedding cosine with its target (the pair check, issue 20) is
below this is another speaker's: FAIL naming the sample. Measured (resemblyzer 0.1.4, CPU):
espeak-ng voices, same voice 0.949-0.989 (mean 0.974), different voices mean 0.77, a male and a
female voice 0.63-0.76; real and espeak-ng voices (the issue's measurement) same speaker mean 0.88,
min 0.77, different 0.58 mean. The demo's synthetic formant voices do not separate: same speaker
mean 0.88 but min 0.70 (1st percentile 0.76), different speakers mean 0.72, max 0.92, so on the
demo about 1 % of true pairs score below this; GE2E knows real voices, not formant synthesis."""

PAIR_SIMILARITY_SAME_RECORDING = 0.995
"""A cosine at or above this (1 exactly for the same file or the same codes) is no two different
recordings: the reference is the target itself or a copy, and the model can copy the answer: FAIL
naming the sample. Highest measured for two different recordings of one voice: 0.989 (espeak-ng,
same voice, other sentence), 0.984 (the demo's synthetic voices)."""
