"""The per-sender hourly acknowledgement cap holds under concurrency (two deliveries at once)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from guichet.accounts.models import Team
from guichet.channels.email import acknowledgement, parser
from guichet.channels.email.models import OutboundEmail
from guichet.conversations.services import message_ingest

from .inbound_support import make_mailbox, raw_email

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "claire@example.org"


def test_two_deliveries_at_once_cannot_both_pass_the_hourly_cap(team: Team, settings: Any) -> None:
    settings.EMAIL_AUTO_REPLY_HOURLY_CAP = 1
    mailbox = make_mailbox("cartes@banque.test", team=team)
    parsed = [
        parser.parse_email(
            raw_email(sender=SENDER, subject=f"Sujet {n}"), max_attachment_bytes=10**6
        )
        for n in range(2)
    ]
    conversations = [
        message_ingest(parser.to_inbound(p, raw_ref="test", team_id=team.pk)).conversation
        for p in parsed
    ]
    first_queued = threading.Event()
    refusals: dict[str, str] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                refusals["first"] = acknowledgement.acknowledgement_refusal(
                    parsed=parsed[0], conversation=conversations[0], now=timezone.now()
                )
                OutboundEmail.objects.create(
                    kind=OutboundEmail.Kind.ACKNOWLEDGEMENT,
                    mailbox=mailbox,
                    conversation=conversations[0],
                    message_id_header="race-1@banque.test",
                    to_address=SENDER,
                )
                first_queued.set()
                time.sleep(1.0)  # the second delivery checks the cap while this is uncommitted
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_queued.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            first_queued.wait(10)
            with transaction.atomic():
                refusals["second"] = acknowledgement.acknowledgement_refusal(
                    parsed=parsed[1], conversation=conversations[1], now=timezone.now()
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert refusals == {"first": "", "second": acknowledgement.SENDER_CAP}
