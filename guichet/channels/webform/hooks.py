"""Sections other apps add to the customer's portal home page (upcoming appointments, …).

An app registers a function in its `AppConfig.ready()`::

    from guichet.channels.webform.hooks import register_portal_section
    register_portal_section("appointments", upcoming_appointments_section)

The function receives the signed-in customer and returns a `PortalSection` (a template and its
context) or None to show nothing. It must only read that customer's own data. Sections appear in
the "upcoming appointments" area of the portal, in registration order; the portal itself shows
nothing there until an app registers one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guichet.customers.models import Customer


@dataclass(frozen=True)
class PortalSection:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


PortalSectionHook = Callable[[Customer], PortalSection | None]
_SECTIONS: dict[str, PortalSectionHook] = {}


def register_portal_section(name: str, hook: PortalSectionHook) -> None:
    """Registering a name again replaces its function."""
    _SECTIONS[name] = hook


def unregister_portal_section(name: str) -> None:
    _SECTIONS.pop(name, None)


def portal_sections(customer: Customer) -> list[PortalSection]:
    sections = []
    for hook in list(_SECTIONS.values()):
        section = hook(customer)
        if section is not None:
            sections.append(section)
    return sections
