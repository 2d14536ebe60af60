"""Letters filed as conversations: upload, OCR, sender matching, linking, answer by letter."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guichet.channels.paper.models import PaperLetter
from guichet.channels.paper.services import Upload, letters_upload
from guichet.conversations.models import Event
from guichet.conversations.search import search_conversations
from guichet.conversations.services import conversation_reply
from guichet.core.exceptions import InvalidInput
from guichet.customers.services import customer_create
from tests.channels.paper.conftest import encode, render_page

pytestmark = pytest.mark.django_db(transaction=True)


def _scan(*lines: str) -> bytes:
    return encode(render_page(list(lines), height=700), "PNG")


def test_letter_matched_by_email_becomes_a_searchable_conversation(agent):
    customer = customer_create(
        display_name="Hélène Dupré", identities=[("email", "helene.dupre@example.org")]
    )
    letters_upload(
        actor=agent,
        uploads=[
            Upload(
                "lettre.png",
                _scan("Objet : remboursement", "Écrire à helene.dupre@example.org", "Prélèvement"),
            )
        ],
    )
    letter = PaperLetter.objects.get()
    assert letter.status == "done" and letter.matched_by == "email"
    conversation = letter.conversation
    assert conversation.channel == "paper" and conversation.customer_id == customer.pk
    message = conversation.messages.get()
    assert "remboursement" in message.text
    assert message.attachments.get().content_type == "image/png"
    # The recognised text is what the search indexes ("prélèvement" found without its accents).
    assert [c.pk for c in search_conversations(user=agent, query="prelevement")] == [
        conversation.pk
    ]


def test_unknown_sender_is_left_for_an_agent_to_link(agent, outsider, login):
    customer = customer_create(display_name="Marc Noël", identities=[("phone", "+33612345678")])
    letters_upload(actor=agent, uploads=[Upload("x.png", _scan("Bonjour, je déménage."))])
    letter = PaperLetter.objects.get()
    assert letter.matched_by == "" and letter.conversation.customer_id != customer.pk
    client = login(agent)
    page = client.get(reverse("paper_letter", args=[letter.pk]))
    assert page.status_code == 200
    other_team = login(outsider)
    assert other_team.get(reverse("paper_letter", args=[letter.pk])).status_code == 404
    assert (
        other_team.post(
            reverse("paper_letter_link", args=[letter.pk]), {"identifier": "06 12 34 56 78"}
        ).status_code
        == 404
    )
    assert b"x.png" not in other_team.get(reverse("paper_letters")).content
    bad = client.post(
        reverse("paper_letter_link", args=[letter.pk]), {"identifier": "nobody@x.org"}
    )
    assert bad.status_code == 400
    ok = client.post(
        reverse("paper_letter_link", args=[letter.pk]), {"identifier": "06 12 34 56 78"}
    )
    assert ok.status_code == 302
    letter.refresh_from_db()
    assert letter.conversation.customer_id == customer.pk
    assert Event.objects.filter(verb="customer.changed", data__reason="linked").exists()


def test_ocr_failure_keeps_the_scan_and_says_so(agent, settings):
    settings.PAPER_OCR_TIMEOUT_SECONDS = 0  # no page can be read in no time
    letters_upload(actor=agent, uploads=[Upload("lettre.png", _scan("Bonjour"))])
    letter = PaperLetter.objects.get()
    assert letter.status == "ocr_failed" and "timeout" in letter.ocr_error
    message = letter.conversation.messages.get()
    assert "OCR failed" in message.text
    assert message.attachments.count() == 1
    assert Event.objects.filter(verb="paper.ocr_failed").exists()


def test_batch_upload_page_refuses_bad_files_whole(agent, login):
    client = login(agent)
    good = SimpleUploadedFile("a.png", _scan("Lettre une"), content_type="image/png")
    bad = SimpleUploadedFile("b.png", b"<html>not an image</html>", content_type="image/png")
    response = client.post(reverse("paper_letters"), {"scans": [good, bad]})
    assert response.status_code == 400 and "b.png" in response.content.decode()
    assert PaperLetter.objects.count() == 0
    with pytest.raises(InvalidInput):
        letters_upload(actor=agent, uploads=[])


def test_reply_on_paper_conversation_produces_a_pdf_letter(agent):
    customer = customer_create(
        display_name="Zoé Lefèvre", identities=[("email", "zoe@example.org")], language="fr"
    )
    letters_upload(actor=agent, uploads=[Upload("z.png", _scan("Contact : zoe@example.org"))])
    conversation = PaperLetter.objects.get().conversation
    assert conversation.customer_id == customer.pk
    reply = conversation_reply(
        actor=agent, conversation=conversation, text="Madame,\n\nVotre demande est acceptée."
    )
    reply.refresh_from_db()
    pdf = reply.attachments.get()
    assert pdf.content_type == "application/pdf" and reply.delivery_status == "sent"
    from django.core.files.storage import default_storage

    from guichet.channels.paper.letters import letter_html

    assert default_storage.open(pdf.storage_key).read().startswith(b"%PDF")
    html = letter_html(reply)
    assert 'lang="fr"' in html  # the customer's language, whatever the agent's
    assert "1 place de la Mairie" in html
