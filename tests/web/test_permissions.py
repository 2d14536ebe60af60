"""Each role against objects it must not see: 404 (403 for a role restriction), nothing leaked.

Also CSRF, `Cache-Control: no-store` and the CSP on agent pages.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from guichet.conversations.models import Attachment, Conversation, Event, Message
from guichet.conversations.types import InboundAttachment
from guichet.customers.models import Customer

pytestmark = pytest.mark.django_db

SECRET_SUBJECT = "Secretsubject Zanzibar"
SECRET_NAME = "Hortense Secrete"


@pytest.fixture
def hidden(ingest, team):
    """A conversation of `team` with a customer, an attachment and a note."""
    result = ingest(
        subject=SECRET_SUBJECT,
        text="Zanzibar details",
        sender="hidden@example.org",
        sender_name=SECRET_NAME,
        attachments=(InboundAttachment("secret.txt", b"top secret\n"),),
    )
    return result.conversation


def actions(conversation: Conversation, team_id: int, agent_id: int) -> list[tuple[str, dict]]:
    n = conversation.number
    return [
        (f"/c/{n}/claim", {}),
        (f"/c/{n}/assign", {"assignee": agent_id}),
        (f"/c/{n}/status", {"status": "resolved"}),
        (f"/c/{n}/priority", {"priority": "4"}),
        (f"/c/{n}/team", {"team": team_id}),
        (f"/c/{n}/tags", {"tags": "leak"}),
        (f"/c/{n}/snooze", {"preset": "1h"}),
        (f"/c/{n}/snooze", {"unsnooze": "1"}),
        (f"/c/{n}/reply", {"text": "leak"}),
        (f"/c/{n}/note", {"text": "leak"}),
    ]


def snapshot(conversation: Conversation) -> tuple:
    fresh = Conversation.objects.get(pk=conversation.pk)
    return (
        fresh.assignee_id,
        fresh.status,
        fresh.priority,
        fresh.team_id,
        fresh.snoozed_until,
        list(fresh.tags.values_list("name", flat=True)),
        Message.objects.count(),
        Event.objects.count(),
    )


def test_outsider_sees_nothing(hidden, outsider, other_team, login) -> None:
    client = login(outsider)
    before = snapshot(hidden)
    assert client.get(f"/c/{hidden.number}/").status_code == 404
    for url, data in actions(hidden, other_team.pk, outsider.pk):
        response = client.post(url, data)
        assert response.status_code == 404, url
        assert SECRET_SUBJECT not in response.content.decode()
        response = client.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 404, url
    assert snapshot(hidden) == before
    customer_id = hidden.customer_id
    assert client.get(f"/customers/{customer_id}/").status_code == 404
    assert (
        client.post(
            f"/customers/{customer_id}/identities", {"kind": "email", "value": "x@example.org"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/customers/{customer_id}/edit", {"display_name": "Changed"}).status_code
        == 404
    )
    assert Customer.objects.get(pk=customer_id).display_name == SECRET_NAME
    attachment = Attachment.objects.get()
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 404


def test_outsider_search_and_inbox_leak_nothing(hidden, outsider, login) -> None:
    client = login(outsider)
    for query in ("Zanzibar", "Secretsubject", "Hortense", "hidden@example.org"):
        body = client.get("/search/", {"q": query}).content.decode()
        assert SECRET_SUBJECT not in body and SECRET_NAME not in body, query
        assert (
            f"/c/{hidden.number}/" not in body and f"/customers/{hidden.customer_id}/" not in body
        )
    for view in ("mine", "unassigned", "teams"):
        body = client.get(f"/?view={view}&status=any").content.decode()
        assert SECRET_SUBJECT not in body
        counts = re.findall(r'<span class="count">(\d+)</span>', body)
        assert counts and set(counts) == {"0"}, (view, counts)
    assert client.get("/?view=all").status_code == 400


def test_member_sees_in_search(hidden, agent, login) -> None:
    body = login(agent).get("/search/", {"q": "Zanzibar"}).content.decode()
    assert f"/c/{hidden.number}/" in body
    body = login(agent).get("/search/", {"q": "Hortense"}).content.decode()
    assert f"/customers/{hidden.customer_id}/" in body


def test_assigned_outsider_sees_only_that_conversation(
    ingest, hidden, outsider, admin_user, login
) -> None:
    other = ingest(subject="Other secret", sender="other@example.org").conversation
    admin = login(admin_user)
    # The assign service only hands work to team members; an assignee who left the team keeps
    # the conversation, which is the case built here.
    Conversation.objects.filter(pk=hidden.pk).update(assignee=outsider)
    client = login(outsider)
    assert client.get(f"/c/{hidden.number}/").status_code == 200
    assert client.get(f"/c/{other.number}/").status_code == 404
    body = client.get("/").content.decode()
    assert f"/c/{hidden.number}/" in body and f"/c/{other.number}/" not in body
    assert admin.get(f"/c/{other.number}/").status_code == 200


def test_merge_needs_supervisor_and_visible_other(
    ingest, hidden, supervisor, agent, outsider, other_team, login
) -> None:
    mine = ingest(sender="mine@example.org").conversation
    foreign = ingest(sender="foreign@example.org", team_id=other_team.pk).conversation
    # Agents: 403, even between two customers they can see.
    response = login(agent).post(
        f"/customers/{mine.customer_id}/merge", {"other": hidden.customer_id}
    )
    assert response.status_code == 403
    # Supervisor: the other customer must be visible too.
    response = login(supervisor).post(
        f"/customers/{mine.customer_id}/merge", {"other": foreign.customer_id}
    )
    assert response.status_code == 404
    assert Customer.objects.get(pk=foreign.customer_id).merged_into is None
    # And the page itself must be visible.
    response = login(outsider).post(
        f"/customers/{hidden.customer_id}/merge", {"other": foreign.customer_id}
    )
    assert response.status_code == 404
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_supervisor_all_view_counts_only_visible(
    ingest, hidden, supervisor, other_team, login
) -> None:
    ingest(sender="foreign@example.org", team_id=other_team.pk, subject="Foreign subject")
    body = login(supervisor).get("/?view=all").content.decode()
    assert "Foreign subject" not in body
    assert re.search(r'All\s*<span class="count">1</span>', body)


def test_admin_sees_everything(ingest, hidden, admin_user, other_team, login) -> None:
    foreign = ingest(sender="foreign@example.org", team_id=other_team.pk).conversation
    client = login(admin_user)
    assert client.get(f"/c/{foreign.number}/").status_code == 200
    assert client.get(f"/customers/{hidden.customer_id}/").status_code == 200
    assert client.get(f"/attachments/{Attachment.objects.get().pk}/").status_code == 200


def test_csrf_required(hidden, agent) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    before = snapshot(hidden)
    for url, data in actions(hidden, hidden.team_id, agent.pk):
        assert client.post(url, data).status_code == 403, url
    assert (
        client.post(f"/customers/{hidden.customer_id}/edit", {"display_name": "x"}).status_code
        == 403
    )
    assert client.post("/c/new/", {"text": "x"}).status_code == 403
    assert snapshot(hidden) == before
    assert Conversation.objects.count() == 1
    # With the token from the page, the same post works.
    page = client.get(f"/c/{hidden.number}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(f"/c/{hidden.number}/note", {"text": "ok", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_login_csrf_required(agent) -> None:
    client = Client(enforce_csrf_checks=True)
    from tests.conftest import PASSWORD

    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 403


def test_security_headers_on_agent_pages(hidden, agent, login) -> None:
    client = login(agent)
    for url in (
        "/",
        f"/c/{hidden.number}/",
        f"/customers/{hidden.customer_id}/",
        "/c/new/",
        "/search/?q=carte",
        "/login/",
    ):
        response = client.get(url)
        assert response["Cache-Control"] == "no-store", url
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        body = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), url  # no inline script
        assert " style=" not in body, url
        assert not re.search(r"\son[a-z]+=", body), url


def test_every_input_has_a_label(hidden, agent, login) -> None:
    client = login(agent)
    for url in ("/", f"/c/{hidden.number}/", f"/customers/{hidden.customer_id}/", "/c/new/"):
        body = client.get(url).content.decode()
        ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', body))
        visible_inputs = re.findall(
            r'<(?:input(?![^>]*type="(?:hidden|submit)")|select|textarea)[^>]*>', body
        )
        for tag in visible_inputs:
            match = re.search(r'\bid="([^"]+)"', tag)
            assert match, (url, tag)
            assert f'for="{match.group(1)}"' in body, (url, tag)
        assert ids
