"""HTTP routes of the files service."""
