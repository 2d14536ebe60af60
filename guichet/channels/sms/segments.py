"""How a text travels as SMS: GSM-7 or UCS-2, and how many parts (segments) it takes.

A text made only of GSM 03.38 characters is sent in GSM-7: 160 septets in one SMS, 153 per part
when it must be split (the concatenation header takes the rest). Characters of the extension
table (`^{}\\[~]|€` and form feed) are sent as an escape plus the character: they count two
septets and are never cut in two. Any other character switches the whole text to UCS-2 (UTF-16):
70 units in one SMS, 67 per part; a character outside the Basic Multilingual Plane (most emoji)
takes two units and its surrogate pair is never cut either.

Splitting follows the cost only (not words): the receiving phone reassembles the parts.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "gsm7"
UCS2 = "ucs2"

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}  # (single message, each part of a long one)


@dataclass(frozen=True)
class SmsParts:
    encoding: str
    parts: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.parts)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_of(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def char_cost(char: str, encoding: str) -> int:
    """Septets (GSM-7) or UTF-16 units (UCS-2) one character takes."""
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def text_cost(text: str, encoding: str | None = None) -> int:
    encoding = encoding or encoding_of(text)
    return sum(char_cost(char, encoding) for char in text)


def split(text: str) -> SmsParts:
    """The parts `text` is sent in; an empty text is one empty part."""
    encoding = encoding_of(text)
    single, each = LIMITS[encoding]
    if text_cost(text, encoding) <= single:
        return SmsParts(encoding, (text,))
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:  # a Python character is a whole code point: pairs are never cut
        cost = char_cost(char, encoding)
        if used + cost > each:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    if current:
        parts.append("".join(current))
    return SmsParts(encoding, tuple(parts))
