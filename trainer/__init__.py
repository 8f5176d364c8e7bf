"""Training side of stratlog: data, model loading and the training loop (never imports sink or tui)."""
