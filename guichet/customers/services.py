"""Writers for customers: find-or-create by identity, edit, add identities, merge."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.core.exceptions import Conflict, InvalidInput
from guichet.customers.identities import normalise
from guichet.customers.models import Customer, Identity


def customer_find_by_identity(*, kind: str, value: str) -> Customer | None:
    """The (unmerged) customer holding this identity, or None. Does not check permissions."""
    identity = (
        Identity.objects.select_related("customer")
        .filter(kind=kind, value=normalise(kind, value))
        .first()
    )
    if identity is None:
        return None
    customer = identity.customer
    seen = {customer.pk}
    while customer.merged_into_id is not None and customer.merged_into_id not in seen:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen.add(customer.pk)
    return customer


def customer_get_or_create(
    *, kind: str, value: str, display_name: str = "", language: str = ""
) -> tuple[Customer, bool]:
    """Find the customer owning the identity or create one with it; safe under concurrency."""
    normalised = normalise(kind, value)
    existing = customer_find_by_identity(kind=kind, value=normalised)
    if existing is not None:
        if display_name and not existing.display_name:
            existing.display_name = display_name[:200]
            existing.save(update_fields=["display_name"])
        return existing, False
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                display_name=display_name[:200], preferred_language=language[:8]
            )
            Identity.objects.create(customer=customer, kind=kind, value=normalised)
            return customer, True
    except IntegrityError:
        # Another writer created the identity first: use theirs.
        found = customer_find_by_identity(kind=kind, value=normalised)
        if found is None:
            raise
        return found, False


def identity_normalise(*, kind: str, value: str) -> str:
    """The stored form of an identity value; `InvalidInput` when it cannot be one."""
    return normalise(kind, value)


def customer_get_or_create_many(
    entries: Sequence[tuple[str, str, str, str]],
) -> list[tuple[Customer, bool]]:
    """`customer_get_or_create` for several (kind, normalised value, display name, language),
    with the result each would have had one after the other: one query finds the identities, one
    INSERT each creates the missing customers and their identities. Call inside a transaction;
    a concurrent writer creating one of the identities first raises `IntegrityError` (the caller
    retries: the lookup then finds it).
    """
    by_kind: dict[str, set[str]] = {}
    for kind, value, _name, _language in entries:
        by_kind.setdefault(kind, set()).add(value)
    wanted = Q(pk__in=[])
    for kind, values in by_kind.items():
        wanted |= Q(kind=kind, value__in=values)
    found: dict[tuple[str, str], Customer] = {}
    same: dict[int, Customer] = {}  # one object per customer row
    for identity in Identity.objects.select_related("customer").filter(wanted):
        owner: Customer | None = identity.customer
        if owner is not None and owner.merged_into_id is not None:  # rare: follow the merges
            owner = customer_find_by_identity(kind=identity.kind, value=identity.value)
        if owner is None:
            continue
        found[(identity.kind, identity.value)] = same.setdefault(owner.pk, owner)
    results: list[tuple[Customer, bool]] = []
    new_customers: list[Customer] = []
    new_identities: list[Identity] = []
    renamed: dict[int, Customer] = {}
    for kind, value, display_name, language in entries:
        known = found.get((kind, value))
        if known is None:
            customer = Customer(display_name=display_name[:200], preferred_language=language[:8])
            found[(kind, value)] = customer
            new_customers.append(customer)
            new_identities.append(Identity(customer=customer, kind=kind, value=value))
            results.append((customer, True))
            continue
        if display_name and not known.display_name:
            known.display_name = display_name[:200]
            if known.pk is not None:
                renamed[known.pk] = known
        results.append((known, False))
    if new_customers:
        Customer.objects.bulk_create(new_customers)
        Identity.objects.bulk_create(new_identities)
    if renamed:
        Customer.objects.bulk_update(list(renamed.values()), ["display_name"])
    return results


@transaction.atomic
def customer_create(
    *, display_name: str, identities: list[tuple[str, str]], language: str = ""
) -> Customer:
    customer = Customer.objects.create(display_name=display_name[:200], preferred_language=language)
    for kind, value in identities:
        identity_add(customer=customer, kind=kind, value=value)
    return customer


def identity_add(*, customer: Customer, kind: str, value: str) -> Identity:
    normalised = normalise(kind, value)
    owner = customer_find_by_identity(kind=kind, value=normalised)
    if owner is not None and owner.pk != customer.pk:
        raise InvalidInput(
            _("%(value)s already belongs to another customer; merge the two instead.")
            % {"value": normalised}
        )
    identity, _created = Identity.objects.get_or_create(
        kind=kind, value=normalised, defaults={"customer": customer}
    )
    return identity


def customer_update(
    *,
    customer: Customer,
    display_name: str | None = None,
    preferred_language: str | None = None,
    advisor: User | None = None,
    clear_advisor: bool = False,
    accessibility_needs: str | None = None,
    notes: str | None = None,
) -> list[str]:
    """Change the given fields; return the names changed (the caller records the event)."""
    changed: list[str] = []
    for field, value in (
        ("display_name", display_name),
        ("preferred_language", preferred_language),
        ("accessibility_needs", accessibility_needs),
        ("notes", notes),
    ):
        if value is not None and getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if clear_advisor and customer.advisor_id is not None:
        customer.advisor = None
        changed.append("advisor")
    elif advisor is not None and customer.advisor_id != advisor.pk:
        customer.advisor = advisor
        changed.append("advisor")
    if changed:
        customer.save(update_fields=changed)
    return changed


def customer_merge_rows(*, source: Customer, target: Customer) -> None:
    """Move identities from `source` to `target` and mark `source` merged.

    The conversation layer moves conversations and records the events in the same transaction
    (see `conversations.services.customer_merge`). Locks both rows in id order so that merging
    A into B and B into A at the same moment cannot both succeed (RELIABILITY T05).
    """
    if source.pk == target.pk:
        raise InvalidInput(_("A customer cannot be merged into itself."))
    # ORDER BY makes PostgreSQL take the row locks in id order: without it two opposite merges can
    # lock one row each and deadlock (a database error instead of a clear refusal).
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise InvalidInput(_("This customer no longer exists."))
    fresh_source, fresh_target = locked[source.pk], locked[target.pk]
    if fresh_source.merged_into_id is not None or fresh_target.merged_into_id is not None:
        raise Conflict(_("One of these customers has already been merged."))
    Identity.objects.filter(customer=fresh_source).update(customer=fresh_target)
    if not fresh_target.display_name and fresh_source.display_name:
        fresh_target.display_name = fresh_source.display_name
        fresh_target.save(update_fields=["display_name"])
    if fresh_target.advisor_id is None and fresh_source.advisor_id is not None:
        fresh_target.advisor_id = fresh_source.advisor_id
        fresh_target.save(update_fields=["advisor"])
    fresh_source.merged_into = fresh_target
    fresh_source.save(update_fields=["merged_into"])
