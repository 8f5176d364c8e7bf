"""Widgets of the dashboard's input area."""
