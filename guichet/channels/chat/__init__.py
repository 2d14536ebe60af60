"""Live chat."""
