"""Find who wrote a letter from identifiers in its text: a reference to one of our
conversations, a customer number, an email address or a phone number.

Only identifiers that already belong to a customer count: a letter quoting someone else's
address (ours, a lawyer's) must not create or pick a customer. The first kind that matches wins,
in the order above (the most specific first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from guichet.conversations.models import Conversation
from guichet.customers.identities import DEFAULT_REGION
from guichet.customers.models import Customer, Identity

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# "Réf. : 1042", "Référence dossier n° 1042", "Our ref: #1042", "Dossier 1042"
REFERENCE = re.compile(
    r"\b(?:r[ée]f(?:[ée]rence)?|ref(?:erence)?|dossier|case)\b\.?[^\d\n]{0,20}?#?\s?(\d{3,12})",
    re.IGNORECASE,
)
# "Numéro de client : 4521", "N° client 4521", "Customer number: 4521", "Client no 4521"
CUSTOMER_NUMBER = re.compile(
    r"(?:(?:num[ée]ro|n°|no\.?|number|num\.?)\s*(?:de\s+)?(?:client|customer|adh[ée]rent)"
    r"|(?:client|customer|adh[ée]rent)\s*(?:num[ée]ro|n°|no\.?|number|#))\s*:?\s*(\d{1,12})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Match:
    customer: Customer
    by: str  # reference, customer_number, email, phone
    conversation_number: int | None = None


def _live(customer: Customer) -> Customer:
    seen = {customer.pk}
    while customer.merged_into_id is not None and customer.merged_into_id not in seen:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen.add(customer.pk)
    return customer


def sender_match(text: str) -> Match | None:
    text = text[:200_000]
    for found in REFERENCE.finditer(text):
        conversation = (
            Conversation.objects.select_related("customer").filter(number=int(found[1])).first()
        )
        if conversation is not None:
            return Match(_live(conversation.customer), "reference", conversation.number)
    for found in CUSTOMER_NUMBER.finditer(text):
        customer = Customer.objects.filter(pk=int(found[1])).first()
        if customer is not None:
            return Match(_live(customer), "customer_number")
    emails = {m.lower().strip(".") for m in EMAIL.findall(text)}
    if emails:
        identity = (
            Identity.objects.select_related("customer")
            .filter(kind="email", value__in=sorted(emails))
            .first()
        )
        if identity is not None:
            return Match(_live(identity.customer), "email")
    phones = {
        phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        for m in phonenumbers.PhoneNumberMatcher(text, DEFAULT_REGION)
    }
    if phones:
        identity = (
            Identity.objects.select_related("customer")
            .filter(kind="phone", value__in=sorted(phones))
            .first()
        )
        if identity is not None:
            return Match(_live(identity.customer), "phone")
    return None
