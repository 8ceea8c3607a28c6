"""AI Community auth service."""
