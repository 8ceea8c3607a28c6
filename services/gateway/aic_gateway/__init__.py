"""AI Community gateway service."""
