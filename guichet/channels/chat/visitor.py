"""The chat visitor's identity: a random id, carried in a signed token (cookie or browser storage).

The id becomes a `chat` identity of a customer on the first message. The token is signed with the
site's secret key, so a visitor cannot pick another visitor's id (RELIABILITY W08: a claimed
identifier is never trusted without a server-side signature). Email and name that a visitor types
are recorded as what they said, never as verified identities.
"""

from __future__ import annotations

import re
import secrets

from django.core import signing

SALT = "guichet.chat.visitor"
COOKIE_NAME = "guichet_chat"
MAX_AGE_SECONDS = 30 * 24 * 3600
_VISITOR_ID = re.compile(r"^v-[A-Za-z0-9_-]{16,40}$")


def visitor_id_new() -> str:
    return "v-" + secrets.token_urlsafe(18)


def visitor_token(visitor_id: str) -> str:
    return signing.dumps(visitor_id, salt=SALT, compress=False)


def visitor_from_token(token: object) -> str | None:
    """The visitor id inside a valid, unexpired token; None for anything else."""
    if not isinstance(token, str) or not token or len(token) > 300:
        return None
    try:
        value = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(value, str) or not _VISITOR_ID.match(value):
        return None
    return value


def visitor_group(visitor_id: str) -> str:
    """The channel-layer group of a visitor's open chat windows."""
    return f"chat.visitor.{visitor_id}"


def team_group(team_id: int | None) -> str:
    """The channel-layer group of the chat consoles watching a team (None: no team, admins)."""
    return f"chat.team.{team_id}" if team_id is not None else "chat.admins"


ADMINS_GROUP = "chat.admins"
