"""AI Community social service."""
