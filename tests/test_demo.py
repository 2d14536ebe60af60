"""`manage.py demo_data` builds a believable organisation through the services."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from guichet.accounts.models import Site, Team, User
from guichet.conversations.models import Conversation, Event, Message
from guichet.core.models import Calendar
from guichet.customers.models import Customer, Identity
from guichet.web.demo import DEMO_LOGINS, DEMO_PASSWORD, easter_sunday, french_public_holidays

pytestmark = pytest.mark.django_db


def _demo(*args: str) -> str:
    out = StringIO()
    call_command(
        "demo_data", "--customers", "20", "--conversations", "30", "-v", "0", *args, stdout=out
    )
    return out.getvalue()


def test_demo_builds_an_organisation() -> None:
    _demo()
    office = Calendar.objects.get(name="Horaires de bureau")
    assert office.time_zone == "Europe/Paris"
    assert office.periods.filter(weekday=0).count() == 2
    assert not office.periods.filter(weekday=5).exists()
    assert office.holidays.filter(name="Lundi de Pâques").count() == 2
    assert Calendar.objects.filter(name="24/7").exists()
    assert Team.objects.count() >= 3
    assert Team.objects.filter(calendar__name="24/7").exists()
    assert Site.objects.exists()
    roles = dict(User.objects.values("role").annotate(n=Count("id")).values_list("role", "n"))
    assert roles["admin"] == 1 and 1 <= roles["supervisor"] <= 2 and roles["agent"] >= 4
    for username, role in DEMO_LOGINS:
        user = User.objects.get(username=username)
        assert user.role == role and user.check_password(DEMO_PASSWORD)
        assert user.languages
    assert all(u.teams.exists() for u in User.objects.exclude(role="admin"))


def test_demo_counter_can_be_used_at_once(client, settings) -> None:
    """Booking offers times at every site, the kiosk offers reasons and the console has desks."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from datetime import timedelta

    from django.utils import timezone

    from guichet.channels.appointments.models import AppointmentType
    from guichet.channels.appointments.selectors import slots_search

    _demo()
    in_person = AppointmentType.objects.filter(mode="in_person")
    assert in_person.exists() and AppointmentType.objects.filter(mode="phone").exists()
    today = timezone.localdate()
    for site in Site.objects.all():
        assert site.desks.count() == 3
        assert site.queue_reasons.count() >= 3
        slots = slots_search(
            site=site,
            appointment_type=in_person.get(team__slug="accueil"),
            first_day=today + timedelta(days=1),
            last_day=today + timedelta(days=14),
        )
        assert slots, site.name
        kiosk = client.get(f"/kiosk/{site.pk}/", headers={"Accept-Language": "fr"})
        assert "Carte bancaire" in kiosk.content.decode()


def test_demo_customers_and_conversations() -> None:
    _demo()
    assert Customer.objects.count() == 20
    phones = list(Identity.objects.filter(kind="phone").values_list("value", flat=True))
    assert phones and all(p.startswith("+33") and len(p) == 12 for p in phones)
    assert Identity.objects.filter(kind="email", value__contains="@example.").exists()
    conversations = Conversation.objects.all()
    assert conversations.count() == 30
    assert len(set(conversations.values_list("channel", flat=True))) >= 4
    assert len(set(conversations.values_list("status", flat=True))) >= 4
    assert set(conversations.values_list("language", flat=True)) <= {"fr", "en"}
    assert conversations.filter(assignee__isnull=True).exists()
    assert conversations.filter(assignee__isnull=False).exists()
    for conversation in conversations:
        verbs = set(conversation.events.values_list("verb", flat=True))
        assert "conversation.created" in verbs
        assert conversation.messages.filter(direction=Message.Direction.INBOUND).exists()
        assert conversation.last_message_at is not None
        assert conversation.created_at <= conversation.last_message_at
        if conversation.team is not None and conversation.first_human_response_at is None:
            assert conversation.first_human_response_due is not None
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    # Backdated history: events keep their order and most conversations are not brand new.
    assert Event.objects.filter(verb="message.sent").exists()
    created = sorted(conversations.values_list("created_at", flat=True))
    assert (created[-1] - created[0]).days >= 1


def test_if_empty_adds_nothing_the_second_time() -> None:
    _demo("--if-empty")
    counts = (Customer.objects.count(), Conversation.objects.count(), Event.objects.count())
    _demo("--if-empty")
    assert (Customer.objects.count(), Conversation.objects.count(), Event.objects.count()) == counts


def test_demo_runs_twice_without_if_empty() -> None:
    _demo()
    _demo("--seed", "2")
    assert Customer.objects.count() == 40
    assert Conversation.objects.count() == 60
    assert User.objects.filter(username="camille").count() == 1


def test_demo_works_without_the_shared_datasets(tmp_path: Path) -> None:
    _demo("--datasets", str(tmp_path))
    assert Conversation.objects.count() == 30


def test_demo_refused_in_production(settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        _demo()
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_french_holidays_2025() -> None:
    days = dict(french_public_holidays(2025))
    assert len(days) == 11
    assert days[date(2025, 4, 21)] == "Lundi de Pâques"
    assert days[date(2025, 5, 29)] == "Ascension"
    assert days[date(2025, 6, 9)] == "Lundi de Pentecôte"
