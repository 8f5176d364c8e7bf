"""The live dashboard: one optional Textual front end over the sink's `RunState`."""
