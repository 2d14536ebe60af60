"""Errors tell the truth: Guichet's 403/404/405/500 pages, clear 400s, typed values kept."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from guichet.conversations import services
from guichet.conversations.models import Conversation
from guichet.core.exceptions import InvalidInput
from guichet.customers.models import Customer

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _nav(body: str) -> bool:
    return 'class="site-nav"' in body


# 403, 404, 405 and 500 pages.


def test_unknown_address_is_guichets_404_for_an_agent(agent, login) -> None:
    response = login(agent).get("/nowhere/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body and 'role="alert"' in body
    assert _nav(body) and 'href="/"' in body  # the agent frame and the way back to the inbox
    assert "tried" not in body  # nothing of the URL resolver's internals


def test_a_views_own_404_message_is_shown(agent, login) -> None:
    response = login(agent).get("/c/999999/")
    assert response.status_code == 404
    assert "No such conversation." in response.content.decode()


def test_a_customer_gets_the_public_frame_without_agent_navigation(client) -> None:
    response = client.get("/portal/nowhere/", HTTP_REFERER="http://testserver/contact/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body
    assert not _nav(body) and "Inbox" not in body and "/search/" not in body
    assert 'href="http://testserver/contact/"' in body  # back where they came from
    assert "Write to us" in body


def test_a_foreign_referer_is_not_offered_as_the_way_back(client) -> None:
    body = client.get("/portal/nowhere/", HTTP_REFERER="https://evil.example/").content.decode()
    assert "evil.example" not in body


def test_404_in_french(agent, login) -> None:
    response = login(agent).get("/nowhere/", HTTP_ACCEPT_LANGUAGE="fr")
    body = response.content.decode()
    assert response.status_code == 404 and '<html lang="fr">' in body
    assert "Retour à la boîte de réception" in body


def test_403_is_guichets_page(agent, login, monkeypatch) -> None:
    from django.core.exceptions import PermissionDenied

    from guichet.web.views import search

    def refuse(**kwargs):
        raise PermissionDenied

    monkeypatch.setattr(search, "search_conversations", refuse)
    response = login(agent).get("/search/?q=carte")
    body = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in body and "You are not allowed" in body and _nav(body)


def test_405_of_a_post_only_address_is_a_page(ingest, agent, login) -> None:
    number = ingest().conversation.number
    response = login(agent).get(f"/c/{number}/claim", HTTP_ACCEPT="text/html,*/*;q=0.8")
    body = response.content.decode()
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "This address does not accept this kind of request" in body and _nav(body)


def test_405_for_a_script_stays_bare(ingest, agent, login) -> None:
    response = login(agent).get(f"/c/{ingest().conversation.number}/claim")
    assert response.status_code == 405 and response.content == b""


def test_405_for_htmx_is_a_fragment_for_the_live_region(ingest, agent, login) -> None:
    number = ingest().conversation.number
    response = login(agent).get(f"/c/{number}/claim", **HTMX)
    assert response.status_code == 405
    assert "<html" not in response.content.decode()
    assert "data-error-text" in response.content.decode()


def test_500_is_guichets_page_without_the_database(agent, monkeypatch, django_assert_num_queries):
    from guichet.web.views import errors, inbox

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(inbox.selectors, "inbox_page", broken)
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Server error" in body and "Something went wrong on our side" in body
    assert 'href="/"' in body and "boom" not in body
    assert not _nav(body)  # the agent frame needs the database; this page does not

    from django.test import RequestFactory

    with django_assert_num_queries(0):
        assert errors.server_error(RequestFactory().get("/")).status_code == 500


def test_500_for_htmx_goes_to_the_live_region(ingest, agent, monkeypatch) -> None:
    number = ingest().conversation.number
    monkeypatch.setattr(services, "conversation_claim", lambda **kw: 1 / 0)
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    response = client.post(f"/c/{number}/claim", **HTMX)
    assert response.status_code == 500
    assert response["HX-Retarget"] == "#live-error"
    assert "Something went wrong on our side" in response.content.decode()


def test_the_live_region_and_its_texts_are_on_every_agent_page(agent, login) -> None:
    body = login(agent).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    region = re.search(r'<div id="live-error"[^>]*>', body)
    assert region, "no live region"
    tag = region.group(0)
    assert 'role="status"' in tag and 'aria-live="polite"' in tag
    for name in ("network", "timeout", "server", "not-found", "forbidden", "refused"):
        assert f'data-{name}="' in tag


def test_a_refusal_of_an_htmx_request_goes_to_the_live_region(agent, login) -> None:
    response = login(agent).get("/search/?q=%00", **HTMX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#live-error" and "<html" not in response.content.decode()


# A merged customer's old address.


def test_a_merged_customers_old_address_leads_to_the_customer_kept(ingest, supervisor, login):
    kept = ingest(sender="a@example.org", sender_name="Marie Curie").conversation.customer
    old = ingest(sender="b@example.org").conversation.customer
    services.customer_merge(actor=supervisor, source=old, target=kept)
    client = login(supervisor)
    response = client.get(f"/customers/{old.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/customers/{kept.pk}/"
    body = client.get(response["Location"]).content.decode()
    assert f"Customer {old.pk} was merged into Marie Curie (customer {kept.pk})." in body


def test_a_merged_customer_out_of_sight_stays_404(ingest, supervisor, outsider, login) -> None:
    kept = ingest(sender="a@example.org").conversation.customer
    old = ingest(sender="b@example.org").conversation.customer
    services.customer_merge(actor=supervisor, source=old, target=kept)
    assert login(outsider).get(f"/customers/{old.pk}/").status_code == 404


# Query strings: a clear 400, never a 500.


@pytest.mark.parametrize(
    "query",
    [
        "team=9223372036854775808",
        "team=99999999999999999999",
        "page=1e20",
        "page=9223372036854775808",
        "page=2147483648",
        "priority=9223372036854775808",
        "team=%207",
        "team=1_0",
        "team=%D9%A7",
        "tag=a%00b",
    ],
)
def test_out_of_range_query_values_are_400(ingest, agent, login, query: str) -> None:
    ingest()
    response = login(agent).get("/?" + query)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_a_search_with_nul_is_400(agent, login) -> None:
    assert login(agent).get("/search/?q=carte%00").status_code == 400


def test_the_largest_page_number_is_an_empty_page(ingest, agent, login) -> None:
    ingest()
    assert login(agent).get("/?page=2147483647").status_code == 200


# Forms refused for one bad field.


def test_a_too_long_customer_name_keeps_everything_typed(ingest, agent, agent2, login) -> None:
    customer = ingest().conversation.customer
    typed = "Marie " + "x" * 300
    response = login(agent).post(
        f"/customers/{customer.pk}/edit",
        {"display_name": typed, "preferred_language": "en", "advisor": agent2.pk},
    )
    body = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'<input[^>]*name="display_name"[^>]*>', body)
    assert field, "no name field"
    tag = field.group(0)
    assert f'value="{typed}"' in tag
    assert 'aria-invalid="true"' in tag and 'aria-describedby="edit_display_name_error"' in tag
    assert re.search(r'id="edit_display_name_error"[^>]*>.*at most 200 characters', body, re.S)
    assert re.search(r'<option value="en" selected>', body)
    assert re.search(rf'<option value="{agent2.pk}" selected>', body)
    customer.refresh_from_db()
    assert customer.display_name != typed[:200]  # nothing saved, nothing cut


def test_the_service_refuses_a_too_long_name_rather_than_cut_it(ingest, agent) -> None:
    customer = ingest().conversation.customer
    with pytest.raises(InvalidInput):
        services.customer_edit(
            actor=agent,
            customer=customer,
            display_name="x" * 201,
            preferred_language="",
            advisor=None,
        )


def test_a_too_long_tag_is_an_error_beside_the_field_not_cut(ingest, agent, login) -> None:
    conversation = ingest().conversation
    typed = "carte, " + "t" * 51
    response = login(agent).post(f"/c/{conversation.number}/tags", {"tags": typed}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 400
    field = re.search(r'<input[^>]*name="tags"[^>]*>', body)
    assert field, "no tags field"
    assert f'value="{typed}"' in field.group(0)
    assert 'aria-invalid="true"' in field.group(0)
    assert re.search(r'id="tags_tags_error"[^>]*>.*at most 50 characters', body, re.S)
    assert not Conversation.objects.get(pk=conversation.pk).tags.exists()


def test_the_service_refuses_a_too_long_tag(ingest, agent) -> None:
    conversation = ingest().conversation
    with pytest.raises(InvalidInput):
        services.conversation_set_tags(actor=agent, conversation=conversation, names=["t" * 51])
    assert not conversation.tags.exists()


def test_a_refused_merge_keeps_the_number_typed(ingest, supervisor, login) -> None:
    customer = ingest().conversation.customer
    response = login(supervisor).post(f"/customers/{customer.pk}/merge", {"other": customer.pk})
    body = response.content.decode()
    assert response.status_code == 400
    assert re.search(rf'<input[^>]*name="other"[^>]*value="{customer.pk}"', body)
    assert Customer.objects.filter(pk=customer.pk, merged_into__isnull=True).exists()
