"""Agents taking the next callback at the same moment: each request goes to exactly one agent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from guichet.accounts.services import agent_create
from guichet.channels.phone.models import CallbackRequest
from guichet.channels.phone.services import callback_request_from_contact, callback_take_next

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_request_goes_to_exactly_one_agent(team, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CALLBACK_HOURLY_LIMIT_PER_NUMBER = 100
    requests = 6
    agents = [
        agent_create(username=f"agent{i}", password="x", first_name=f"A{i}", teams=[team])
        for i in range(8)
    ]
    for i in range(requests):
        callback_request_from_contact(number=f"+3361234560{i}", source="page")
    barrier = threading.Barrier(len(agents))

    def take(i: int):
        try:
            barrier.wait(timeout=30)
            return callback_take_next(actor=agents[i])
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(agents)) as pool:
        results = list(pool.map(take, range(len(agents))))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    taken = [r.pk for r in results if r is not None]
    assert len(taken) == len(set(taken)) == requests  # six distinct requests, two agents get none
    rows = CallbackRequest.objects.all()
    assert {row.status for row in rows} == {"in_progress"}
    assert len({row.taken_by_id for row in rows}) == requests
