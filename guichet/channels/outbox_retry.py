""" "Retry now" for any channel's outbox row (e-mail, SMS): one rule, each channel's own parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from guichet.accounts.models import User
from guichet.conversations.models import Message
from guichet.conversations.services import event_record, message_delivery_status_set
from guichet.core.exceptions import Conflict

Row = TypeVar("Row", bound=models.Model)


def outbox_row_retry(
    model: type[Row],
    *,
    outbound_id: int,
    actor: User,
    busy: str,
    verb: str,
    event_data: Callable[[Row], dict[str, Any]],
    enqueue: Callable[[int], None],
    requeues_message: Callable[[Row], bool] = lambda row: True,
) -> Row:
    """Try a waiting or failed row again now. A failed row gets a fresh round of attempts; its
    message is queued again. `Conflict(busy)` when it is being sent or was sent.

    `model` has the outbox fields `state` (queued, sending, sent, failed…), `attempts`,
    `next_attempt_at`, `message` and `conversation`; `enqueue` schedules its send after commit.
    """
    queued, failed = model.State.QUEUED, model.State.FAILED  # type: ignore[attr-defined]
    with transaction.atomic():
        outbound: Any = (
            model._default_manager.select_for_update(of=("self",))
            .select_related("conversation")
            .get(pk=outbound_id)
        )
        if outbound.state not in (queued, failed):
            raise Conflict(busy)
        changes: dict[str, Any] = {"state": queued, "next_attempt_at": timezone.now()}
        if outbound.state == failed:
            changes["attempts"] = 0
        model._default_manager.filter(pk=outbound.pk).update(**changes)
        if outbound.message_id is not None and requeues_message(outbound):
            message_delivery_status_set(
                message_id=outbound.message_id, status=Message.DeliveryStatus.QUEUED
            )
        event_record(
            verb=verb, conversation=outbound.conversation, actor=actor, data=event_data(outbound)
        )
        enqueue(outbound.pk)
    outbound.refresh_from_db()
    return outbound
