"""Widgets of the dashboard's zero-shot area."""
