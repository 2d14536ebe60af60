"""The Django admin: branded and translated, every page answers, records are read-only, the
outboxes are visible, and an administrator can unlock an agent's sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils.functional import Promise

from guichet.accounts.models import LoginFailure, User
from guichet.accounts.services import login_failure_record, login_is_throttled
from guichet.channels.email.models import OutboundEmail
from guichet.channels.sms.models import OutboundSms
from guichet.conversations.models import Attachment, Conversation, Event, Message
from guichet.customers.models import Customer
from guichet.web.admin_site import GuichetAdminSite


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def conversation(ingest: Any) -> Conversation:
    return ingest().conversation


@pytest.fixture
def _static(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_static")]


def _admin_url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_admin_site_is_guichets(admin_client: Client) -> None:
    assert isinstance(admin.site, GuichetAdminSite)
    body = admin_client.get("/admin/").content.decode()
    assert "Guichet administration" in body
    assert "Django administration" not in body


def test_admin_is_translated(admin_client: Client) -> None:
    admin_client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    body = admin_client.get("/admin/", headers={"accept-language": "fr"}).content.decode()
    assert '<html lang="fr"' in body
    assert "Django administration" not in body and "Site administration" not in body


def test_every_admin_page_answers(admin_client: Client, conversation: Conversation) -> None:
    """Each registered model's list, add page and, with a row, change page: never a 500."""
    for model, model_admin in admin.site._registry.items():
        urls = [_admin_url(model, "changelist"), _admin_url(model, "add")]
        row = model._default_manager.first()
        if row is not None:
            urls.append(_admin_url(model, "change", row.pk))
        for url in urls:
            status = admin_client.get(url).status_code
            assert status in {200, 302, 403}, (url, status, type(model_admin).__name__)


@pytest.mark.parametrize(
    "model", [Conversation, Message, Event, Attachment, Customer, OutboundEmail, OutboundSms]
)
def test_records_are_read_only(
    admin_client: Client, conversation: Conversation, model: Any
) -> None:
    model_admin = admin.site._registry[model]
    request = admin_client.get("/admin/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    assert admin_client.get(_admin_url(model, "add")).status_code == 403
    assert admin_client.get(_admin_url(model, "changelist")).status_code == 200


def test_conversation_cannot_be_changed_or_deleted(
    admin_client: Client, conversation: Conversation
) -> None:
    before = (conversation.status, conversation.subject, conversation.events.count())
    response = admin_client.post(
        _admin_url(Conversation, "change", conversation.pk),
        {"subject": "edited", "status": "closed"},
    )
    assert response.status_code == 403
    assert (
        admin_client.post(
            _admin_url(Conversation, "delete", conversation.pk), {"post": "yes"}
        ).status_code
        == 403
    )
    conversation.refresh_from_db()
    assert (conversation.status, conversation.subject, conversation.events.count()) == before
    body = admin_client.get(_admin_url(Conversation, "change", conversation.pk)).content.decode()
    assert 'name="subject"' not in body  # shown, not editable


def test_outbox_is_listed(admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()
    assert _admin_url(OutboundEmail, "changelist") in index
    assert _admin_url(OutboundSms, "changelist") in index


def test_admin_unlocks_an_agent(admin_client: Client, agent: User, settings: Any) -> None:
    settings.LOGIN_MAX_ATTEMPTS = 2
    for _ in range(2):
        login_failure_record(username="alice", address="203.0.113.9")
    assert login_is_throttled(username="alice", address="203.0.113.9")
    response = admin_client.post(
        _admin_url(User, "changelist"),
        {"action": "unlock_sign_in", "_selected_action": [agent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Sign-in unlocked for 1 agent." in response.content.decode()
    assert not LoginFailure.objects.filter(username="alice").exists()
    assert not login_is_throttled(username="alice", address="203.0.113.9")
    entry = LogEntry.objects.get(object_id=str(agent.pk))
    assert "Sign-in unlocked" in entry.get_change_message()


def test_failed_sign_ins_are_visible_read_only(admin_client: Client, agent: User) -> None:
    login_failure_record(username="alice", address="203.0.113.9")
    body = admin_client.get(_admin_url(LoginFailure, "changelist")).content.decode()
    assert "203.0.113.9" in body
    assert admin_client.get(_admin_url(LoginFailure, "add")).status_code == 403


def test_admin_names_are_translatable() -> None:
    """Every Guichet app and model the admin lists has a name marked for translation (a plain
    string would stay English on the French admin)."""
    names = [admin.site.site_header, admin.site.site_title, admin.site.index_title]
    for model in admin.site._registry:
        if not model.__module__.startswith("guichet."):
            continue
        names += [model._meta.verbose_name, model._meta.app_config.verbose_name]
    untranslatable = [str(name) for name in names if not isinstance(name, Promise)]
    assert untranslatable == []
