"""Widgets of the dashboard's output area."""
