"""Widgets of the dashboard's history area."""
