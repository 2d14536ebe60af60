"""Benchmark scripts that print figures (see bench/README.md). Not imported by the application."""
