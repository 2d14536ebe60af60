"""Normalisation of identity values: lower-case email addresses, E.164 phone numbers."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from guichet.core.exceptions import InvalidInput

DEFAULT_REGION = "FR"
KINDS = ("email", "phone", "chat", "portal")
MAX_LENGTH = 254  # Identity.value

# NUL, other control characters and lone surrogates: databases refuse them (RELIABILITY W05).
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _shown(raw: str) -> str:
    """The input as quoted back in an error message: printable and short."""
    shown = _UNSTORABLE.sub("\ufffd", raw)
    return shown if len(shown) <= 80 else shown[:79] + "…"


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    try:
        if len(value) > MAX_LENGTH or _UNSTORABLE.search(value):
            raise ValidationError("unstorable")
        validate_email(value)
    except ValidationError:
        raise InvalidInput(
            _("“%(value)s” is not a valid email address.") % {"value": _shown(raw)}
        ) from None
    return value


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 (`+33612345678`); national numbers are read in `region`."""
    invalid = InvalidInput(_("“%(value)s” is not a valid phone number.") % {"value": _shown(raw)})
    if len(raw) > 100:  # phonenumbers refuses longer input anyway; say so in our words
        raise invalid
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise invalid from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise invalid
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """International display format, e.g. `+33 6 12 34 56 78`."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise(kind: str, raw: str) -> str:
    """The stored form of an identity value; `InvalidInput` for an unknown kind or a bad value."""
    if kind not in KINDS:
        raise InvalidInput(_("Unknown kind of identifier: %(kind)s.") % {"kind": _shown(str(kind))})
    if not isinstance(raw, str):
        raise InvalidInput(_("An identifier must be text."))
    if kind == "email":
        return normalise_email(raw)
    if kind == "phone":
        return normalise_phone(raw)
    value = raw.strip()
    if not value or len(value) > MAX_LENGTH:
        raise InvalidInput(_("An identifier must have between 1 and 254 characters."))
    if _UNSTORABLE.search(value):
        raise InvalidInput(_("An identifier cannot contain control characters."))
    return value
