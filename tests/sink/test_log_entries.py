"""A log entry's text from its sections. Run: ./run-tests tests/sink/test_log_entries.py"""

from __future__ import annotations

import itertools

from stratlog.sink import snapshot_kinds
from stratlog.sink.log_entries import PendingEntry


def test_an_entry_is_its_header_and_each_section_in_the_kinds_order_after_a_blank_line():
    """The entry text (joined once) is the header, a blank line, then the sections in the order of
    `snapshot_kinds` whatever order they arrived in, a kind sent twice in its arrival order, each
    followed by a blank line; an entry without sections still ends its header with one."""
    keys = [kind.key for kind in snapshot_kinds.SNAPSHOT_KINDS]
    header = "=== Zero-Shot Voice Cloning Training Log - Step 3 ===\nRank: 0 of 1 (run r)\n"
    for count in range(len(keys) + 1):
        for chosen in itertools.permutations(keys, count):
            sections = {key: [f"{key} section\n├── row\n└── last"] for key in chosen}
            if chosen:
                sections[chosen[0]].append(f"{chosen[0]} again\n\nwith a blank line")
            ordered = [text for key in keys for text in sections.get(key, [])]
            entry = PendingEntry(header, 3, 0.0, sections)
            assert entry.text() == header + "\n" + "\n\n".join(ordered) + "\n\n"
