"""What the customer receives about an appointment: text, `.ics` file, signed management link.

Each notice is an outbound message on the appointment's conversation (so the timeline shows what
was sent), with the `.ics` as its attachment. Email goes through the email outbox (retries,
Message-ID, delivery status); SMS goes through the "sms" sender when a channel registered one.
The messages are written in the caller's transaction and handed to the senders there (their
outbox rows are committed with them); the sending itself runs after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from guichet.channels.appointments.models import Appointment, AppointmentType
from guichet.conversations.content import store_bytes
from guichet.conversations.models import Attachment, Message
from guichet.conversations.senders import sender_for
from guichet.conversations.services import message_hand_over

logger = logging.getLogger(__name__)

TOKEN_SALT = "guichet.appointments.manage"  # noqa: S105 - a namespace, not a secret


# --- signed links --------------------------------------------------------------------------------


def manage_token(appointment: Appointment) -> str:
    """A signed, time-stamped token naming the appointment by its random reference."""
    return signing.dumps({"r": appointment.reference}, salt=TOKEN_SALT, compress=True)


def token_reference(token: str, *, now: datetime | None = None) -> str | None:
    """The reference a token names, or None if it is forged, malformed or expired."""
    max_age = timedelta(days=settings.APPOINTMENT_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    reference = payload.get("r") if isinstance(payload, dict) else None
    return reference if isinstance(reference, str) else None


def manage_url(appointment: Appointment) -> str:
    path = reverse("appointments:public_manage", args=[manage_token(appointment)])
    return f"{settings.APPOINTMENT_PUBLIC_URL.rstrip('/')}{path}"


# --- content -------------------------------------------------------------------------------------


def when_text(appointment: Appointment) -> str:
    local = timezone.localtime(appointment.starts_at, _zone(appointment))
    return date_format(local, "l j F Y, H:i")


def _zone(appointment: Appointment):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(appointment.site.calendar.time_zone)


def where_text(appointment: Appointment) -> str:
    mode = appointment.type.mode
    if mode == AppointmentType.Mode.PHONE:
        return _("We will call you at %(phone)s.") % {"phone": appointment.phone or "—"}
    if mode == AppointmentType.Mode.VIDEO:
        return _("We will send you the video link before the appointment.")
    address = " ".join(appointment.site.address.split())
    return f"{appointment.site.name}, {address}".strip(", ")


def notice_text(appointment: Appointment, kind: str) -> str:
    subject = {
        "booked": _("Your appointment is confirmed."),
        "rescheduled": _("Your appointment has been moved."),
        "cancelled": _("Your appointment has been cancelled."),
        "reminder": _("Reminder of your appointment."),
    }[kind]
    lines = [
        subject,
        "",
        _("What: %(type)s") % {"type": appointment.type.label(appointment.language)},
        _("When: %(when)s") % {"when": when_text(appointment)},
        _("Where: %(where)s") % {"where": where_text(appointment)},
        _("With: %(agent)s") % {"agent": appointment.agent.display_name},
    ]
    if kind != "cancelled":
        lines += [
            "",
            _("To move or cancel it, use this link:"),
            manage_url(appointment),
        ]
    if appointment.site.phone:
        lines += ["", _("To speak to someone: %(phone)s") % {"phone": appointment.site.phone}]
    return "\n".join(lines)


def sms_text(appointment: Appointment, kind: str) -> str:
    label = {
        "booked": _("Appointment confirmed"),
        "rescheduled": _("Appointment moved"),
        "cancelled": _("Appointment cancelled"),
        "reminder": _("Reminder: appointment"),
    }[kind]
    text = f"{label}: {when_text(appointment)}, {appointment.site.name}."
    if kind != "cancelled":
        text += " " + manage_url(appointment)
    return text


def ics_bytes(appointment: Appointment, *, cancelled: bool = False) -> bytes:
    """An iCalendar file (RFC 5545) the customer's calendar can import; same UID on every update."""
    calendar = Calendar()
    calendar.add("prodid", "-//Guichet//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"{appointment.reference}@{settings.EMAIL_FROM_DOMAIN}")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", appointment.type.label(appointment.language))
    event.add("location", where_text(appointment))
    event.add("description", manage_url(appointment) if not cancelled else "")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", int(timezone.now().timestamp()))
    calendar.add_component(event)
    return bytes(calendar.to_ical())


# --- queueing ------------------------------------------------------------------------------------


def notices_queue(appointment: Appointment, kind: str) -> list[Message]:
    """Write the outbound notices (email, SMS) and hand them to their senders, whose outbox rows
    are written with them (the sending runs after commit).

    Call inside the transaction of the change. A channel that cannot send (no address, no SMS
    sender installed) is skipped, and a sender that fails marks its notice failed: the booking
    itself is never refused for it.
    """
    language = appointment.language or settings.LANGUAGE_CODE
    messages: list[Message] = []
    with translation.override(language):
        if appointment.email and sender_for("email") is not None:
            message = _message_create(appointment, "email", notice_text(appointment, kind))
            content = ics_bytes(appointment, cancelled=kind == "cancelled")
            key, digest = store_bytes(content)
            Attachment.objects.create(
                message=message,
                storage_key=key,
                filename="appointment.ics",
                content_type="text/calendar",
                declared_content_type="text/calendar",
                size=len(content),
                sha256=digest,
            )
            messages.append(message)
        if appointment.phone and sender_for("sms") is not None:
            messages.append(_message_create(appointment, "sms", sms_text(appointment, kind)))
    for message in messages:
        message_hand_over(message)
    return messages


def _message_create(appointment: Appointment, channel: str, text: str) -> Message:
    return Message.objects.create(
        conversation_id=appointment.conversation_id,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
        author_kind=Message.AuthorKind.AUTOMATION,
        author_name=_("Appointments"),
        text=text,
        delivery_status=Message.DeliveryStatus.QUEUED,
    )
