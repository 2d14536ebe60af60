"""Phone and callbacks."""
