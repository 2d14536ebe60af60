"""Paper mail."""
