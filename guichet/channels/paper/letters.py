"""Answers by letter: an agent's reply on a paper conversation becomes a printable PDF.

Rendered with WeasyPrint from an HTML template, in the customer's language, with the
organisation's address block (setting `LETTER_SENDER_ADDRESS`). The sender registered for channel
"paper" queues the rendering after the reply's commit; the PDF is attached to the reply.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from guichet.conversations.models import Message

logger = logging.getLogger(__name__)


def letter_language(message: Message) -> str:
    conversation = message.conversation
    language = conversation.language or conversation.customer.preferred_language
    language = (language or settings.LANGUAGE_CODE)[:2]
    return language if language in {"fr", "en"} else settings.LANGUAGE_CODE


def letter_html(message: Message) -> str:
    conversation = message.conversation
    with translation.override(letter_language(message)):
        return render_to_string(
            "paper/letter.html",
            {
                "sender_lines": [
                    line.strip()
                    for line in settings.LETTER_SENDER_ADDRESS.split(";")
                    if line.strip()
                ],
                "customer": conversation.customer,
                "conversation": conversation,
                "message": message,
                "paragraphs": [p for p in message.text.split("\n\n") if p.strip()],
                "today": timezone.localdate(),
                "agent": message.author_name,
            },
        )


def letter_pdf(message: Message) -> bytes:
    from weasyprint import HTML  # imported here: loading Pango takes a moment

    # No base URL: the template is self-contained, so the renderer fetches nothing.
    return HTML(string=letter_html(message)).write_pdf()


def paper_sender(message: Message) -> None:
    """The sender of channel "paper": called inside the reply's transaction, it queues the
    rendering after commit (the PDF, attached to the reply, is its delivery record)."""
    message_id = message.pk

    def enqueue() -> None:
        try:
            from guichet.channels.paper.tasks import paper_letter_render

            paper_letter_render.enqueue(message_id)
        except Exception:
            logger.exception("Could not queue the letter for message %s", message_id)

    transaction.on_commit(enqueue)
