"""Widgets of the dashboard's overview area."""
