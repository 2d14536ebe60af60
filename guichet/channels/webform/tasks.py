"""Task-worker entry points of the web form and portal: they receive ids and call the services."""

from __future__ import annotations

from django_tasks import task

from guichet.channels.webform.auth import portal_link_send


@task()
def send_portal_link(link_id: int, link_base: str) -> str:
    """Send one portal sign-in link (or note that nobody has the address)."""
    return str(portal_link_send(link_id=link_id, link_base=link_base))
