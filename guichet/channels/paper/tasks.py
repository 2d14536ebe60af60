"""Task-worker entry points of paper mail: they receive ids and call the services."""

from __future__ import annotations

from django_tasks import task

from guichet.channels.paper.services import letter_process, letter_render_for


@task()
def paper_letter_process(letter_id: int) -> str:
    """OCR one uploaded letter and file it as a conversation."""
    return letter_process(letter_id=letter_id).status


@task()
def paper_letter_render(message_id: int) -> bool:
    """Produce the printable PDF of an answer by letter."""
    return letter_render_for(message_id=message_id) is not None
