"""AI Community simulator service."""
