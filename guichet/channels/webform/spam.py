"""Spam protection without a third party: a signed form token and a honeypot field.

The token is put in the form when it is shown. It carries the time it was issued and a random
submission id, signed with the secret key, so that:

- a form sent sooner than `WEBFORM_MIN_FILL_SECONDS` after it was shown is refused (scripts post
  at once; a person cannot read and write a message in two seconds);
- a form older than `MAX_AGE` asks the person to send again (their text is kept on the page);
- the submission id becomes the message's external id: sending the same form twice (double click,
  reload, back button) makes one message, not two.

The honeypot is a text field people never see (hidden by CSS, not announced, not in the tab
order); naive scripts fill every field.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_SALT = "guichet.channels.webform.form-token"
MAX_AGE = 24 * 3600  # seconds
HONEYPOT_FIELD = "website"

# Outcomes of `token_check`.
OK = "ok"
TOO_FAST = "too_fast"
EXPIRED = "expired"
INVALID = "invalid"


@dataclass(frozen=True)
class TokenCheck:
    outcome: str
    submission_id: str = ""


def token_issue(now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return signing.dumps({"t": issued, "id": secrets.token_urlsafe(16)}, salt=_SALT, compress=False)


def token_check(token: str, now: float | None = None) -> TokenCheck:
    """Whether the form may be accepted, and its submission id when the token is genuine."""
    if not isinstance(token, str) or not token or len(token) > 300:
        return TokenCheck(INVALID)
    try:
        payload = signing.loads(token, salt=_SALT)
        issued, submission_id = int(payload["t"]), str(payload["id"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return TokenCheck(INVALID)
    age = (now if now is not None else time.time()) - issued
    if age < settings.WEBFORM_MIN_FILL_SECONDS:
        return TokenCheck(TOO_FAST, submission_id)
    if age > MAX_AGE:
        return TokenCheck(EXPIRED, submission_id)
    return TokenCheck(OK, submission_id)
