"""Normalisation of identity values: lower-case email addresses, E.164 phone numbers."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from guichet.core.exceptions import InvalidInput

DEFAULT_REGION = "FR"


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidInput(_("“%(value)s” is not a valid email address.") % {"value": raw}) from None
    return value


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 (`+33612345678`); national numbers are read in `region`."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(_("“%(value)s” is not a valid phone number.") % {"value": raw}) from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise InvalidInput(_("“%(value)s” is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """International display format, e.g. `+33 6 12 34 56 78`."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise(kind: str, raw: str) -> str:
    if kind == "email":
        return normalise_email(raw)
    if kind == "phone":
        return normalise_phone(raw)
    value = raw.strip()
    if not value or len(value) > 254:
        raise InvalidInput(_("An identifier must have between 1 and 254 characters."))
    return value
