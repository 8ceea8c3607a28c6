"""Shared code of the AI Community services."""
