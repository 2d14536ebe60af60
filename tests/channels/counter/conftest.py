from __future__ import annotations

import pytest

from guichet.accounts.models import Site
from guichet.channels.counter.services import reason_create


@pytest.fixture
def site(calendar):
    return Site.objects.create(name="Agence Centre", address="1 rue Haute", calendar=calendar)


@pytest.fixture
def reasons(site):
    return [
        reason_create(site=site, label_fr="Carte bancaire", label_en="Bank card", position=1),
        reason_create(site=site, label_fr="Crédit", label_en="Loan", position=2),
    ]


@pytest.fixture
def counter_agent(agent, site):
    agent.sites.add(site)
    return agent


@pytest.fixture
def counter_agent2(agent2, site):
    agent2.sites.add(site)
    return agent2


@pytest.fixture(autouse=True)
def _plain_static(settings):
    # The manifest storage needs `collectstatic`; pages under test use the plain one.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
