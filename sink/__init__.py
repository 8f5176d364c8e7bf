"""The sink: receives every rank's strategic stream, decodes and analyses it, writes the log
files and the recording, and keeps the run state a dashboard draws from. No torch, no textual."""
