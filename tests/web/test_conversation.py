"""The conversation page and its actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from guichet.conversations import services
from guichet.conversations.models import Conversation, Event, Message

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def test_page_shows_header_and_timeline(ingest, agent, login) -> None:
    conversation = ingest(subject="Carte bloquée", sender_name="Marie").conversation
    services.conversation_note_add(actor=agent, conversation=conversation, text="À vérifier")
    services.conversation_set_priority(actor=agent, conversation=conversation, priority=3)
    body = login(agent).get(f"/c/{conversation.number}/").content.decode()
    assert f"#{conversation.number}" in body and "Carte bloquée" in body
    assert f'href="/customers/{conversation.customer_id}/"' in body
    assert "First human response due" in body
    assert 'class="msg msg-inbound"' in body and 'class="msg msg-note"' in body
    assert "changed the priority from “Normal” to “High”" in body
    assert f'action="/c/{conversation.number}/reply"' in body
    assert f'action="/c/{conversation.number}/note"' in body


def test_message_html_is_the_only_unescaped_content(ingest, agent, login) -> None:
    conversation = ingest(
        subject="<script>alert(1)</script>",
        sender_name="<img src=x onerror=alert(2)>",
        text="<b>plain</b>",
        html="<p>ok <strong>bold</strong><script>alert(3)</script></p>",
    ).conversation
    services.conversation_note_add(actor=agent, conversation=conversation, text="<i>note</i>")
    body = login(agent).get(f"/c/{conversation.number}/").content.decode()
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<strong>bold</strong>" in body
    assert "&lt;i&gt;note&lt;/i&gt;" in body


def test_unknown_conversation_is_404(agent, login) -> None:
    assert login(agent).get("/c/999999/").status_code == 404


def test_reply_prg_and_htmx(ingest, agent, login) -> None:
    conversation = ingest().conversation
    client = login(agent)
    response = client.post(f"/c/{conversation.number}/reply", {"text": "Bonjour, c'est fait."})
    assert response.status_code == 302 and response["Location"] == f"/c/{conversation.number}/"
    followed = client.get(response["Location"]).content.decode()
    assert "Reply saved: it is being sent by Email." in followed
    assert "Bonjour, c&#x27;est fait." in followed
    updated = fresh(conversation)
    assert updated.first_human_response_at is not None and updated.assignee == agent
    response = client.post(f"/c/{conversation.number}/reply", {"text": "Et encore."}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="conversation"') and "<html" not in body
    assert "Et encore." in body and "Reply saved: it is being sent by Email." in body


def test_empty_reply_is_400_and_note_kept(ingest, agent, login) -> None:
    conversation = ingest().conversation
    client = login(agent)
    response = client.post(f"/c/{conversation.number}/reply", {"text": "   "})
    assert response.status_code == 400
    services.conversation_set_status(actor=agent, conversation=conversation, status="resolved")
    services.conversation_set_status(actor=agent, conversation=conversation, status="closed")
    response = client.post(f"/c/{conversation.number}/reply", {"text": "Mon long texte"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This conversation is closed." in body
    assert "Mon long texte</textarea>" in body  # nothing typed is lost
    assert not Message.objects.filter(direction="outbound").exists()


def test_note(ingest, agent, login) -> None:
    conversation = ingest().conversation
    response = login(agent).post(f"/c/{conversation.number}/note", {"text": "Rappeler lundi"})
    assert response.status_code == 302
    note = Message.objects.get(direction="note")
    assert note.text == "Rappeler lundi" and note.author_agent == agent


def test_two_agents_claim_exactly_one_wins(ingest, agent, agent2, login) -> None:
    conversation = ingest().conversation
    first, second = login(agent), login(agent2)
    assert first.post(f"/c/{conversation.number}/claim").status_code == 302
    response = second.post(f"/c/{conversation.number}/claim")
    assert response.status_code == 409
    assert "Alice Martin has already taken this conversation." in response.content.decode()
    assert fresh(conversation).assignee == agent
    assert Event.objects.filter(conversation=conversation, verb="claimed").count() == 1
    htmx = second.post(f"/c/{conversation.number}/claim", **HTMX)
    assert htmx.status_code == 409 and "Alice Martin" in htmx.content.decode()


def test_assign_by_supervisor_and_limits_for_agents(
    ingest, agent, agent2, supervisor, outsider, login
) -> None:
    conversation = ingest().conversation
    boss = login(supervisor)
    response = boss.post(f"/c/{conversation.number}/assign", {"assignee": agent2.pk})
    assert response.status_code == 302 and fresh(conversation).assignee == agent2
    # Not a member of the team: not in the list.
    response = boss.post(f"/c/{conversation.number}/assign", {"assignee": outsider.pk})
    assert response.status_code == 400 and fresh(conversation).assignee == agent2
    # An agent cannot take it from a colleague, nor unassign a colleague.
    alice = login(agent)
    assert alice.post(f"/c/{conversation.number}/assign", {"assignee": agent.pk}).status_code == 403
    assert alice.post(f"/c/{conversation.number}/assign", {"assignee": ""}).status_code == 403
    assert fresh(conversation).assignee == agent2
    boss.post(f"/c/{conversation.number}/assign", {"assignee": ""})
    assert fresh(conversation).assignee is None
    assert alice.post(f"/c/{conversation.number}/assign", {"assignee": agent.pk}).status_code == 302
    assert fresh(conversation).assignee == agent
    # Once it is hers, she may hand it over to a teammate.
    assert (
        alice.post(f"/c/{conversation.number}/assign", {"assignee": agent2.pk}).status_code == 302
    )
    assert fresh(conversation).assignee == agent2


def test_status_priority_team_tags(ingest, agent, login, other_team) -> None:
    conversation = ingest().conversation
    agent.teams.add(other_team)
    client = login(agent)
    number = conversation.number
    assert client.post(f"/c/{number}/status", {"status": "waiting_customer"}).status_code == 302
    assert fresh(conversation).status == "waiting_customer"
    response = client.post(f"/c/{number}/status", {"status": "closed"})
    assert response.status_code == 400 and "cannot go from" in response.content.decode()
    assert client.post(f"/c/{number}/status", {"status": "bogus"}).status_code == 400
    assert client.post(f"/c/{number}/priority", {"priority": "4"}).status_code == 302
    assert fresh(conversation).priority == 4
    assert client.post(f"/c/{number}/priority", {"priority": "7"}).status_code == 400
    assert client.post(f"/c/{number}/tags", {"tags": "Carte, fraude,  ,carte"}).status_code == 302
    assert sorted(fresh(conversation).tags.values_list("name", flat=True)) == ["carte", "fraude"]
    assert client.post(f"/c/{number}/team", {"team": other_team.pk}).status_code == 302
    assert fresh(conversation).team == other_team


def test_team_change_out_of_sight_goes_back_to_inbox(
    ingest, supervisor, other_team, admin_user, login
) -> None:
    conversation = ingest().conversation
    response = login(supervisor).post(f"/c/{conversation.number}/team", {"team": other_team.pk})
    # Only the user's own teams are offered.
    assert response.status_code == 400
    response = login(admin_user).post(f"/c/{conversation.number}/team", {"team": other_team.pk})
    assert response.status_code == 302


def test_snooze_presets_date_and_unsnooze(ingest, agent, login) -> None:
    conversation = ingest().conversation
    client = login(agent)
    number = conversation.number
    assert client.post(f"/c/{number}/snooze", {"preset": "1h"}).status_code == 302
    until = fresh(conversation).snoozed_until
    assert until is not None
    assert timedelta(minutes=59) < until - timezone.now() <= timedelta(hours=1)
    assert client.post(f"/c/{number}/snooze", {"preset": "tomorrow"}).status_code == 302
    local = timezone.localtime(fresh(conversation).snoozed_until)
    assert (local.hour, local.minute) == (9, 0)
    later = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(f"/c/{number}/snooze", {"until": later}).status_code == 302
    assert fresh(conversation).snoozed_until > timezone.now() + timedelta(days=2)
    page = client.get(f"/c/{number}/").content.decode()
    assert "Snoozed until" in page and "Wake up now" in page
    past = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/c/{number}/snooze", {"until": past})
    assert response.status_code == 400 and "future" in response.content.decode()
    assert client.post(f"/c/{number}/snooze", {}).status_code == 400
    assert client.post(f"/c/{number}/snooze", {"unsnooze": "1"}).status_code == 302
    assert fresh(conversation).snoozed_until is None


def test_actions_reject_get(ingest, agent, login) -> None:
    conversation = ingest().conversation
    client = login(agent)
    for action in (
        "claim",
        "assign",
        "status",
        "priority",
        "team",
        "tags",
        "snooze",
        "reply",
        "note",
    ):
        assert client.get(f"/c/{conversation.number}/{action}").status_code == 405


def test_new_conversation_on_behalf(agent, team, login) -> None:
    client = login(agent)
    page = client.get("/c/new/")
    assert page.status_code == 200
    response = client.post(
        "/c/new/",
        {
            "channel": "phone",
            "identifier": "06 12 34 56 78",
            "name": "Jean Dupont",
            "subject": "Opposition",
            "text": "Carte perdue hier soir.",
            "team": team.pk,
            "priority": "3",
        },
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert response["Location"] == f"/c/{conversation.number}/"
    assert conversation.channel == "phone" and conversation.priority == 3
    assert conversation.customer.identities.get().value == "+33612345678"
    message = conversation.messages.get()
    assert message.direction == "inbound" and message.author_agent == agent


def test_new_conversation_by_email(agent, team, login) -> None:
    response = login(agent).post(
        "/c/new/",
        {
            "channel": "counter",
            "identifier": "Jean@Example.org",
            "text": "Question",
            "team": team.pk,
            "priority": "2",
        },
    )
    assert response.status_code == 302
    assert Conversation.objects.get().customer.identities.get().value == "jean@example.org"


@pytest.mark.parametrize("identifier", ["12", "pas un numéro", "jean@", "@x"])
def test_new_conversation_invalid_identifier(agent, team, login, identifier: str) -> None:
    response = login(agent).post(
        "/c/new/",
        {
            "channel": "phone",
            "identifier": identifier,
            "text": "Question",
            "team": team.pk,
            "priority": "2",
        },
    )
    assert response.status_code == 400
    assert "is not a valid" in response.content.decode()
    assert not Conversation.objects.exists()


def test_new_conversation_other_team_refused(agent, other_team, login) -> None:
    response = login(agent).post(
        "/c/new/",
        {
            "channel": "phone",
            "identifier": "0612345678",
            "text": "Question",
            "team": other_team.pk,
            "priority": "2",
        },
    )
    assert response.status_code == 400
    assert not Conversation.objects.exists()
