"""Strategic capture on the training side: callbacks that take small snapshots at chosen steps
and a publisher that hands them to a background thread, so a training step never waits."""
