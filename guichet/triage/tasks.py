"""Task-worker entry points of triage: thin, they call the services."""

from __future__ import annotations

from django_tasks import task

from guichet.triage.services import sla_sweep


@task()
def sla_sweep_task() -> int:
    """Report conversations at risk of missing their due time; returns how many were new."""
    return sla_sweep().at_risk
