"""Counter and walk-in queue."""
