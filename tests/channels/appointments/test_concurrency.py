"""Two people booking the last free time at the same moment: exactly one gets it.

Runs on real transactions (not the test's wrapping one) in threads, each with its own database
connection, so PostgreSQL's row lock (and SQLite's write lock) are what is tested.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.db import connection

from guichet.accounts.models import Site, User
from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.channels.appointments.services import Contact, appointment_book
from guichet.core.exceptions import Conflict

from .conftest import paris, present

THREADS = 6


@pytest.mark.django_db(transaction=True)
def test_no_double_booking_under_concurrency(
    site: Site, agent: User, in_person: AppointmentType, monday: date, settings: Any
) -> None:
    present(agent, site)  # one agent: every thread wants the same person at the same time
    when = paris(monday, 10)
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            appointment_book(
                appointment_type=in_person,
                site=site,
                starts_at=when,
                contact=Contact(name=f"Person {index}", email=f"p{index}@example.org"),
            )
            result = "booked"
        except Conflict:
            result = "conflict"
        except Exception as exc:  # any other outcome is a failure of the test
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["booked"] + ["conflict"] * (THREADS - 1), outcomes
    assert Appointment.objects.filter(starts_at=when).count() == 1


@pytest.mark.django_db(transaction=True)
def test_overlapping_times_of_different_lengths_are_not_both_booked(
    site: Site, agent: User, in_person: AppointmentType, monday: date
) -> None:
    """09:45-10:30 and 10:00-10:30 start at different times: only the row lock keeps them apart."""
    present(agent, site)
    longer = AppointmentType.objects.create(
        name="Long", mode="in_person", duration_minutes=45, team=in_person.team
    )
    wanted = [(in_person, paris(monday, 10)), (longer, paris(monday, 9, 45))] * (THREADS // 2)
    barrier = threading.Barrier(len(wanted))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        kind, when = wanted[index]
        try:
            barrier.wait()
            appointment_book(
                appointment_type=kind,
                site=site,
                starts_at=when,
                contact=Contact(name=f"Person {index}", email=f"p{index}@example.org"),
            )
            result = "booked"
        except Conflict:
            result = "conflict"
        except Exception as exc:
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(wanted))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["booked"] + ["conflict"] * (len(wanted) - 1), outcomes
    assert Appointment.objects.filter(agent=agent).count() == 1
