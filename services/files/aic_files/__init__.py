"""AI Community files service."""
