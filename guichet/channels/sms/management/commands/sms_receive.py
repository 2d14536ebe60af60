"""Development: receive a text as if the provider had posted it (no webhook, no signature)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from guichet.channels.sms.adapters import InboundSms
from guichet.channels.sms.services import sms_receive
from guichet.core.exceptions import InvalidInput


class Command(BaseCommand):
    help = "Store an inbound SMS from NUMBER with TEXT, as the inbound webhook would."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("number", help="The sender, e.g. +33612345678 or 06 12 34 56 78.")
        parser.add_argument("text", help="The text of the SMS.")

    def handle(self, *args: Any, **options: Any) -> None:
        inbound = InboundSms(
            provider_id=f"cli-{uuid.uuid4().hex}",
            sender=options["number"],
            recipient="",
            text=options["text"],
        )
        try:
            received = sms_receive(inbound)
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        number = received.result.conversation.number if received.result else "-"
        self.stdout.write(f"{received.outcome} (conversation {number})")
