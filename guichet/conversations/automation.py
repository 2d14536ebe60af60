"""May automation still answer this conversation? Every channel asks before an automatic reply.

Triage stops automatic replies when it hands a conversation straight to a person (a request for
a person, a repeat contact, a vulnerability cue: DESIGN promise 3). The rule lives here, below the
channels and triage, so that both can use it without importing each other.
"""

from __future__ import annotations

from guichet.conversations.models import Conversation


def automatic_reply_allowed(conversation: Conversation) -> bool:
    """False once a person must answer: no acknowledgement, auto-reply or bot answer may go out.

    Reads the row from the database, so a caller holding an older copy still sees a stop that
    was recorded since (call it with the conversation locked to rule out a race).
    """
    stopped = (
        Conversation.objects.filter(pk=conversation.pk)
        .values_list("automatic_replies_stopped", flat=True)
        .first()
    )
    return not stopped
