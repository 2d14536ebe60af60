"""Portal sign-in without a password: a single-use link by email, then a portal session.

- A link is asked for with an email address. The same things happen whether or not a customer
  has that address (a row, a task), and the page says the same thing (RELIABILITY W07); only the
  task, later and out of the request, finds there is nobody to write to.
- The link's token has 256 random bits. The database keeps its SHA-256 only; it is looked up by
  that digest and compared in constant time, used once, and expires after `PORTAL_LINK_MINUTES`
  (RELIABILITY A06).
- Opening the link shows a button; pressing it (a POST) signs in. Mail scanners that fetch every
  link in a message therefore cannot use up the link.
- A portal session is a row of its own with a random token in a cookie limited to `/portal/`:
  customers are never Django users, and an agent signed in on the same browser is unaffected.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac

from guichet.channels.webform.models import PortalLink, PortalSession
from guichet.customers.identities import normalise_email
from guichet.customers.models import Customer
from guichet.customers.services import customer_find_by_identity

SESSION_COOKIE = "guichet_portal"
SESSION_COOKIE_PATH = "/portal/"
_LINK_SALT = "guichet.channels.webform.portal-link"
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_ERROR = 2000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _derive(nonce: str) -> str:
    """The link token for a nonce: an HMAC under the secret key, 256 bits, URL-safe."""
    mac = salted_hmac(_LINK_SALT, nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


# --- links ---------------------------------------------------------------------------------------


def portal_link_request(
    *, address: str, language: str, link_base: str, now: datetime | None = None
) -> PortalLink:
    """Record a sign-in link for `address` and queue its mail (sent only if a customer has it).

    `InvalidInput` when the address is not an email address. The caller applies rate limits.
    """
    value = normalise_email(address)
    now = now or timezone.now()
    customer = customer_find_by_identity(kind="email", value=value)
    nonce = secrets.token_hex(32)
    with transaction.atomic():
        link = PortalLink.objects.create(
            customer=customer,
            address=value,
            language=language[:8],
            token_digest=_digest(_derive(nonce)),
            nonce=nonce,
            expires_at=now + timedelta(minutes=settings.PORTAL_LINK_MINUTES),
        )
        link_id = link.pk

        def enqueue() -> None:
            from guichet.channels.webform.tasks import send_portal_link

            send_portal_link.enqueue(link_id, link_base)

        transaction.on_commit(enqueue)
    return link


def portal_link_send(*, link_id: int, link_base: str) -> str:
    """Send one queued link (at most once: the row is claimed before sending). Returns its state.

    For an address nobody has, nothing is sent and the address is forgotten. The nonce is
    cleared when the row is claimed: afterwards not even the secret key rebuilds the link.
    """
    link = PortalLink.objects.filter(pk=link_id, state=PortalLink.State.QUEUED).first()
    if link is None:
        return "skipped"
    if link.customer_id is None:
        PortalLink.objects.filter(pk=link.pk, state=PortalLink.State.QUEUED).update(
            state=PortalLink.State.UNKNOWN, nonce="", address=""
        )
        return PortalLink.State.UNKNOWN
    nonce, address, language = link.nonce, link.address, link.language or "fr"
    claimed = PortalLink.objects.filter(pk=link.pk, state=PortalLink.State.QUEUED).update(
        state=PortalLink.State.SENT, sent_at=timezone.now(), nonce=""
    )
    if not claimed:
        return "skipped"
    token = _derive(nonce)
    if not constant_time_compare(_digest(token), link.token_digest):
        PortalLink.objects.filter(pk=link.pk).update(
            state=PortalLink.State.FAILED, error="The secret key changed before the link was sent."
        )
        return PortalLink.State.FAILED
    try:
        _link_email(address=address, language=language, url=_link_url(link_base, token)).send()
    except Exception as exc:
        PortalLink.objects.filter(pk=link.pk).update(
            state=PortalLink.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        )
        return PortalLink.State.FAILED
    return PortalLink.State.SENT


def _link_url(link_base: str, token: str) -> str:
    return f"{link_base.rstrip('/')}/portal/login/{token}/"


def _link_email(*, address: str, language: str, url: str) -> EmailMultiAlternatives:
    with translation.override(language):
        context = {
            "url": url,
            "minutes": settings.PORTAL_LINK_MINUTES,
            "language": language,
        }
        subject = render_to_string("webform/email/portal_link_subject.txt", context).strip()
        text = render_to_string("webform/email/portal_link.txt", context)
        html = render_to_string("webform/email/portal_link.html", context)
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        # RFC 3834: an automatic message, not to be answered by automatic systems.
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    mail.attach_alternative(html, "text/html")
    return mail


def link_find(token: str, now: datetime | None = None) -> PortalLink | None:
    """The usable link for this token (unused, unexpired, for a customer), or None."""
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return None
    digest = _digest(token)
    link = PortalLink.objects.filter(token_digest=digest).first()
    if link is None or not constant_time_compare(link.token_digest, digest):
        return None
    if link.used_at is not None or link.customer_id is None:
        return None
    if link.expires_at <= (now or timezone.now()):
        return None
    return link


@dataclass(frozen=True)
class SignedIn:
    session: PortalSession
    token: str  # for the cookie; never stored


def portal_link_redeem(token: str, now: datetime | None = None) -> SignedIn | None:
    """Use the link once and open a portal session; None when the link cannot be used."""
    now = now or timezone.now()
    link = link_find(token, now)
    if link is None or link.customer is None:
        return None
    with transaction.atomic():
        used = PortalLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now)
        if not used:  # the same link pressed twice at once: one wins
            return None
        customer = _current(link.customer)
        address = _identity_address(customer, link)
        session_token = secrets.token_urlsafe(32)
        session = PortalSession.objects.create(
            customer=customer,
            address=address,
            token_digest=_digest(session_token),
            expires_at=now + timedelta(hours=settings.PORTAL_SESSION_HOURS),
        )
    return SignedIn(session=session, token=session_token)


def _current(customer: Customer) -> Customer:
    """The customer a merged customer now lives on."""
    seen = {customer.pk}
    while customer.merged_into_id is not None and customer.merged_into_id not in seen:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen.add(customer.pk)
    return customer


def _identity_address(customer: Customer, link: PortalLink) -> str:
    """The address the link was sent to, if it is still the customer's; replies go under it."""
    addresses = list(
        customer.identities.filter(kind="email")
        .order_by("created_at", "pk")
        .values_list("value", flat=True)
    )
    if link.address in addresses:
        return link.address
    return addresses[0] if addresses else ""


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalUser:
    session_id: int
    customer: Customer
    address: str


def portal_session_get(token: str | None, now: datetime | None = None) -> PortalUser | None:
    """The signed-in customer for a session cookie, or None (unknown, expired or signed out)."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    digest = _digest(token) if token.isascii() else ""
    if not digest:
        return None
    session = (
        PortalSession.objects.select_related("customer")
        .filter(token_digest=digest, revoked_at__isnull=True, expires_at__gt=now or timezone.now())
        .first()
    )
    if session is None or not constant_time_compare(session.token_digest, digest):
        return None
    customer = _current(session.customer)
    if not session.address:
        return None
    owner = customer_find_by_identity(kind="email", value=session.address)
    if owner is None or owner.pk != customer.pk:
        return None  # the address left this customer since sign-in: sign in again
    return PortalUser(session_id=session.pk, customer=customer, address=session.address)


def portal_logout(session_id: int) -> None:
    PortalSession.objects.filter(pk=session_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
