"""Readers for the email channel: what operators need to know (`manage.py mail_status`)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Sum

from guichet.channels.email.models import InboundEmail, Mailbox, OutboundEmail
from guichet.channels.email.outbound import messages_unsent


def mail_status() -> dict[str, Any]:
    """Inbound counts by state, duplicates skipped, the outbox by state, each mailbox's polling."""
    inbound = {state: 0 for state in InboundEmail.State.values}
    for row in InboundEmail.objects.values("state").annotate(n=Count("id")):
        inbound[row["state"]] = row["n"]
    outbox = {state: 0 for state in OutboundEmail.State.values}
    for row in OutboundEmail.objects.values("state").annotate(n=Count("id")):
        outbox[row["state"]] = row["n"]
    duplicates = InboundEmail.objects.aggregate(n=Sum("duplicates"))["n"] or 0
    # Distinct messages stored under a Message-ID another message already used (kept, not
    # absorbed as duplicates): see `services.reused_key_for`.
    reused = InboundEmail.objects.filter(dedupe_key__startswith="midb:").count()
    oldest_pending = (
        InboundEmail.objects.filter(state=InboundEmail.State.RECEIVED)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    mailboxes = [
        {
            "address": mailbox.address,
            "team": mailbox.team.name if mailbox.team else None,
            "enabled": mailbox.enabled,
            "imap": bool(mailbox.imap_host),
            "last_poll_at": mailbox.last_poll_at.isoformat() if mailbox.last_poll_at else None,
            "last_poll_error": mailbox.last_poll_error or None,
        }
        for mailbox in Mailbox.objects.select_related("team").order_by("address")
    ]
    return {
        "inbound": {
            "ingested": inbound[InboundEmail.State.INGESTED],
            "quarantined": inbound[InboundEmail.State.QUARANTINED],
            "duplicates_skipped": duplicates,
            "message_id_reused": reused,
            "waiting": inbound[InboundEmail.State.RECEIVED],
            "oldest_waiting_since": oldest_pending.isoformat() if oldest_pending else None,
            "delivery_reports": inbound[InboundEmail.State.BOUNCE],
            "ignored": inbound[InboundEmail.State.IGNORED],
        },
        "outbox": outbox,
        # Queued replies with no outbox row after a few minutes (`outbound.outbox_sweep_unsent`).
        "unsent_replies": messages_unsent().count(),
        "mailboxes": mailboxes,
    }
