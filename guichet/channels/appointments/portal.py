"""The customer's upcoming appointments, as a section of the customer portal."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone

from guichet.channels.appointments.notifications import manage_token
from guichet.channels.appointments.selectors import upcoming_appointments
from guichet.channels.webform.hooks import PortalSection
from guichet.customers.models import Customer


def upcoming_appointments_section(customer: Customer) -> PortalSection | None:
    """Each booked appointment still to come, in its site's time, with its move-or-cancel link."""
    appointments = upcoming_appointments(customer)
    if not appointments:
        return None
    rows = []
    for appointment in appointments:
        zone = ZoneInfo(
            appointment.site.calendar.time_zone if appointment.site else str(settings.TIME_ZONE)
        )
        rows.append(
            {
                "appointment": appointment,
                "when": formats.date_format(
                    timezone.localtime(appointment.starts_at, zone), "DATETIME_FORMAT"
                ),
                "token": manage_token(appointment),
            }
        )
    return PortalSection("appointments/_portal_section.html", {"rows": rows})
