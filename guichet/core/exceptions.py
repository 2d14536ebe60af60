"""Errors a service raises for a person to read; views turn them into 4xx answers."""


class GuichetError(Exception):
    """Base of errors that carry a message meant for the user."""


class NotAllowed(GuichetError):
    """The acting user may not do this."""


class InvalidInput(GuichetError):
    """The input cannot be accepted as given."""


class Conflict(GuichetError):
    """Someone else changed the object first."""
