"""Views of the agent interface, one module per page family."""
