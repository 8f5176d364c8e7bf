"""Screens of the dashboard: the main one, help, and the seek prompt."""
