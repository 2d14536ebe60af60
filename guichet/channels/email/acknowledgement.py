"""The acknowledgement email: when it may be sent (no loops) and what it says.

Rules (RFC 3834, DESIGN promise 3, RELIABILITY E01/E02): never answer mail that is itself
automatic (`ParsedEmail.auto_submitted`), mail without a sender, mail from one of our own
addresses or domains, a conversation already acknowledged, or an address that already received
`EMAIL_AUTO_REPLY_HOURLY_CAP` acknowledgements within the hour. Two helpdesks that acknowledge
each other therefore stop after one acknowledgement each way at most.

What it says (promises 1 and 2): the conversation number, when a person will answer (the
first-human-response due time in the team's time zone) and how to reach a person sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import translation

from guichet.channels.email.models import Mailbox, OutboundEmail
from guichet.channels.email.parser import ParsedEmail
from guichet.channels.promise import customer_language, promise_context
from guichet.conversations.automation import automatic_reply_allowed
from guichet.conversations.models import Conversation
from guichet.customers.models import Customer

# Reasons an acknowledgement is not sent; recorded on the timeline event.
AUTO_SUBMITTED = "auto_submitted"
NO_SENDER = "no_sender"
OWN_ADDRESS = "own_address"
ALREADY_ACKNOWLEDGED = "already_acknowledged"
SENDER_CAP = "sender_cap"
PERSON_NEEDED = "person_needed"  # triage handed the conversation straight to a person
STALE_IMPORT = "stale_import"  # imported mail dated more than a day ago: its sender moved on
STALE_AFTER = timedelta(days=1)


def own_addresses_and_domains() -> tuple[set[str], set[str]]:
    """Our mailbox addresses and their domains (plus `EMAIL_FROM_DOMAIN`), lower-case."""
    addresses = {value.lower() for value in Mailbox.objects.values_list("address", flat=True)}
    domains = {address.rsplit("@", 1)[1] for address in addresses if "@" in address}
    domains.add(str(settings.EMAIL_FROM_DOMAIN).lower())
    return addresses, domains


def acknowledgement_refusal(
    *,
    parsed: ParsedEmail,
    conversation: Conversation,
    now: datetime,
    own: tuple[set[str], set[str]] | None = None,
    imported: bool = False,
) -> str:
    """Why no acknowledgement may be sent for this mail ("" when one may).

    Call in the transaction that created the conversation (or with its row locked), so that two
    deliveries cannot both pass the once-per-conversation rule. The hourly cap is race-proof: the
    customer's row is locked first, so concurrent deliveries from one sender count one after the
    other. `own`: `own_addresses_and_domains()` when the caller has it. `imported`: the mail
    came from `import_mail --acknowledge`; mail written more than a day ago is never answered.
    """
    if parsed.auto_submitted:
        return f"{AUTO_SUBMITTED}:{parsed.auto_submitted}"
    if imported and parsed.date is not None and parsed.date < now - STALE_AFTER:
        return STALE_IMPORT
    if not automatic_reply_allowed(conversation):
        return PERSON_NEEDED
    sender = (parsed.from_address or "").strip().lower()
    if not sender or "@" not in sender:
        return NO_SENDER
    addresses, domains = own or own_addresses_and_domains()
    if sender in addresses or sender.rsplit("@", 1)[1] in domains:
        return OWN_ADDRESS
    # Deliveries from this sender wait here for each other until commit (NO KEY UPDATE: it does not
    # conflict with the key-share locks that inserting their conversations takes on the row).
    Customer.objects.select_for_update(no_key=True).filter(pk=conversation.customer_id).values_list(
        "pk", flat=True
    ).first()
    # One query for both rules. Acknowledgements are stored with the address lower-cased, so the
    # hourly cap is an exact match on the (kind, to_address, created_at) index.
    to_conversation = Q(conversation=conversation)
    to_sender = Q(to_address=sender, created_at__gte=now - timedelta(hours=1))
    counts = OutboundEmail.objects.filter(
        Q(kind=OutboundEmail.Kind.ACKNOWLEDGEMENT) & (to_conversation | to_sender)
    ).aggregate(
        conversation=Count("pk", filter=to_conversation), sender=Count("pk", filter=to_sender)
    )
    if counts["conversation"]:
        return ALREADY_ACKNOWLEDGED
    if counts["sender"] >= settings.EMAIL_AUTO_REPLY_HOURLY_CAP:
        return SENDER_CAP
    return ""


# --- content -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    language: str
    text: str
    html: str


def acknowledgement_render(conversation: Conversation) -> Rendered:
    """The text and HTML bodies, in the customer's language."""
    language = customer_language(conversation)
    with translation.override(language):
        context = {
            "customer_name": conversation.customer.display_name,
            "number": str(conversation.number),
            **promise_context(conversation, language),
        }
        text = render_to_string("email_channel/acknowledgement.txt", context)
        html = render_to_string("email_channel/acknowledgement.html", context)
    return Rendered(language=language, text=text.strip() + "\n", html=html)
