"""Widgets of the dashboard's attention area."""
