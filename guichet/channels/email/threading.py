"""Threading of email replies that a stranger cannot forge (RELIABILITY E09).

Every Message-ID we send names its conversation and carries an HMAC of that name:
``guichet.<number>.<kind>.<random>.<hmac>@<domain>``. A reply quoting one of our ids in
In-Reply-To or References joins the conversation only when the HMAC verifies, so a forged or
guessed id (another number, a changed digit, another key, a truncated digest) threads nothing.
The key is derived from ``SECRET_KEY`` with a fixed salt; ids signed with a key listed in
``SECRET_KEY_FALLBACKS`` keep working after a key rotation. The domain is not signed, so a change
of mail domain does not break old threads.

The ``[#number]`` subject tag is a weaker hint: the caller honours it only when the sender is a
participant of that conversation (issue 3, item 6).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "guichet.channels.email.threading.message-id"
_DIGEST_HEX = 20  # 80 bits: far beyond guessing, short enough for a tidy Message-ID
_KIND = re.compile(r"[a-z0-9]{1,10}")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,200}")
_LOCAL = re.compile(
    r"guichet\.(?P<number>[1-9][0-9]{0,11})\.(?P<kind>[a-z0-9]{1,10})"
    r"\.(?P<random>[0-9a-f]{8,64})\.(?P<digest>[0-9a-f]{" + str(_DIGEST_HEX) + "})"
)
_SUBJECT_TAG = re.compile(r"\[\s*#\s*([1-9][0-9]{0,11})\s*\]")


def _digest(left: str, secret: str) -> str:
    return salted_hmac(_SALT, left, secret=secret, algorithm="sha256").hexdigest()[:_DIGEST_HEX]


def make_message_id(*, conversation_number: int, domain: str, kind: str = "r") -> str:
    """A new signed Message-ID (without angle brackets) for a mail about this conversation.

    `kind` says what the mail is ("r" reply, "a" acknowledgement…): lower-case letters or digits.
    """
    if isinstance(conversation_number, bool) or not isinstance(conversation_number, int):
        raise TypeError("conversation_number must be an int")
    if not 0 < conversation_number < 10**12:
        raise ValueError("conversation_number out of range")
    if not _KIND.fullmatch(kind):
        raise ValueError("kind must be 1 to 10 lower-case letters or digits")
    if not _DOMAIN.fullmatch(domain) or domain.startswith(".") or domain.endswith("."):
        raise ValueError("invalid domain for a Message-ID")
    left = f"guichet.{conversation_number}.{kind}.{secrets.token_hex(8)}"
    return f"{left}.{_digest(left, settings.SECRET_KEY)}@{domain}"


def conversation_number_from_message_id(message_id: str) -> int | None:
    """The conversation number of one of our Message-IDs, or None when absent or forged."""
    if not isinstance(message_id, str) or len(message_id) > 400:
        return None
    value = message_id.strip().removeprefix("<").removesuffix(">").strip()
    local, at, _domain = value.rpartition("@")
    if not at:
        return None
    match = _LOCAL.fullmatch(local.lower())
    if match is None:
        return None
    left, digest = local.lower().rsplit(".", 1)
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    if any(constant_time_compare(digest, _digest(left, key)) for key in keys):
        return int(match["number"])
    return None


def conversation_number_from_references(ids: Iterable[str]) -> int | None:
    """The number from the first of `ids` (In-Reply-To, then References) that verifies."""
    for count, message_id in enumerate(ids):
        if count >= 200:  # a References header can be huge; ours are near the end anyway
            break
        number = conversation_number_from_message_id(message_id)
        if number is not None:
            return number
    return None


def subject_tag(number: int) -> str:
    """The tag we put in subjects, e.g. "[#1042]"."""
    return f"[#{int(number)}]"


def conversation_number_from_subject(subject: str) -> int | None:
    """The number in a "[#1042]" subject tag; None when absent or when tags disagree.

    Two different numbers (another helpdesk's tag next to ours, RELIABILITY E01) are ambiguous,
    so the mail opens a new conversation rather than joining a guess.
    """
    if not isinstance(subject, str):
        return None
    numbers = {int(found) for found in _SUBJECT_TAG.findall(subject[:2000])}
    return numbers.pop() if len(numbers) == 1 else None
