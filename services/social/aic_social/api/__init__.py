"""HTTP routes of the social service."""
