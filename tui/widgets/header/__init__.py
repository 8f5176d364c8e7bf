"""Widgets of the dashboard's header area."""
