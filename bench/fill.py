"""Fill the configured database with N realistic conversations, fast, with bulk inserts.

The rows are the ones the services would write (customers with identities, numbered
conversations with their due times computed in the team's calendar, messages, notes, timeline
events, tags), but they are inserted with `bulk_create` in batches, one transaction per batch,
instead of going through `message_ingest` and friends one message at a time.

Idempotent: bench customers carry an email identity `c<index>@bench.example.org`, and a rerun
only adds the conversations missing to reach N (conversation *j* is always generated from the
same seed, so a top-up continues the same data set).
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, TextIO

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from bench.corpus import (
    EN_AGENT,
    EN_NOTES,
    FR_AGENT,
    FR_NOTES,
    Corpus,
    load_corpus,
    message_text,
    person_name,
)
from guichet.accounts.models import Team, User
from guichet.accounts.services import agent_create, team_create
from guichet.conversations import sla
from guichet.conversations.models import (
    Conversation,
    Event,
    Message,
    Status,
    Tag,
)
from guichet.core.calendars import OFFICE_HOURS, CalendarSpec, add_business_time
from guichet.core.models import Calendar, OpeningPeriod, Sequence
from guichet.customers.models import Customer, Identity

BENCH_DOMAIN = "bench.example.org"
PASSWORD = "bench-password-2026"
AGENT_USERNAME = "bench-agent"
SUPERVISOR_USERNAME = "bench-supervisor"
SEQUENCE_START = 1000  # as `core.services.sequence_next`

# name, slug, share of the conversations, first-response target (business minutes)
TEAMS = [
    ("Cartes", "cartes", 30, 240),
    ("Comptes", "comptes", 25, 240),
    ("Crédits", "credits", 15, 480),
    ("Assurances", "assurances", 15, 480),
    ("Réclamations", "reclamations", 15, 120),
]
AGENTS_PER_TEAM = 4
TAGS = ["urgent", "vip", "fraude", "rappel", "agence", "réclamation", "accessibilité"]

CHANNELS = [
    ("email", 55),
    ("webform", 15),
    ("chat", 12),
    ("phone", 10),
    ("sms", 4),
    ("counter", 3),
    ("paper", 1),
]
# Channels where an agent writes down what the customer said (conversation_open).
RECORDED_CHANNELS = {"phone", "counter", "paper"}
PRIORITIES = [(1, 10), (2, 70), (3, 15), (4, 5)]
ACTIVE_MIX = [
    (Status.NEW, 30),
    (Status.OPEN, 35),
    (Status.WAITING_CUSTOMER, 20),
    (Status.WAITING_THIRD_PARTY, 15),
]
CUSTOMERS_PER_CONVERSATION = 0.6
HISTORY_DAYS = 730
RECENT_DAYS = 14
PHONE_SHARE = 0.3
FRENCH_SHARE = 75  # percent of customers


@dataclass
class TeamRef:
    team: Team
    spec: CalendarSpec
    agents: list[User]


@dataclass
class Reference:
    teams: list[TeamRef]
    weights: list[int]
    agent: User
    supervisor: User
    tags: list[Tag]


@dataclass
class FillStats:
    requested: int
    existing_before: int
    conversations: int = 0
    messages: int = 0
    events: int = 0
    customers: int = 0
    seconds: float = 0.0
    corpus: str = ""
    total: dict[str, int] = field(default_factory=dict)


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _w in pairs], weights=[w for _v, w in pairs])[0]


@contextmanager
def keep_timestamps() -> Iterator[None]:
    """Let bulk_create store the historical times we set instead of 'now' (auto_now[_add])."""
    fields = [
        (model._meta.get_field(name), flag)
        for model, names in [
            (Conversation, ["created_at", "updated_at"]),
            (Message, ["created_at"]),
            (Event, ["created_at"]),
            (Customer, ["created_at"]),
            (Identity, ["created_at"]),
        ]
        for name in names
        for flag in ("auto_now", "auto_now_add")
    ]
    saved = [(f, flag, getattr(f, flag)) for f, flag in fields]
    try:
        for f, flag, _value in saved:
            setattr(f, flag, False)
        yield
    finally:
        for f, flag, value in saved:
            setattr(f, flag, value)


# --------------------------------------------------------------------------------------------
# Teams, agents, tags


def _calendar() -> Calendar:
    calendar, created = Calendar.objects.get_or_create(
        name="Bureau (bench)", defaults={"time_zone": "Europe/Paris"}
    )
    if created:
        OpeningPeriod.objects.bulk_create(
            OpeningPeriod(calendar=calendar, weekday=day, opens=opens, closes=closes)
            for day, intervals in OFFICE_HOURS.items()
            for opens, closes in intervals
        )
    return calendar


def _agent(
    username: str, *, first: str, last: str, role: str, teams: list[Team], password: str | None
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = agent_create(
            username=username,
            password=password,
            first_name=first,
            last_name=last,
            role=role,
            teams=teams,
            languages=["fr", "en"],
        )
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def reference_data() -> Reference:
    """Calendar, teams, agents (bench-agent, bench-supervisor and colleagues), tags."""
    with transaction.atomic():
        calendar = _calendar()
        teams: list[Team] = []
        for name, slug, _share, first_minutes in TEAMS:
            team = Team.objects.filter(slug=slug).first() or team_create(
                name=name,
                slug=slug,
                calendar=calendar,
                languages=["fr", "en"],
                first_response_minutes=first_minutes,
            )
            teams.append(team)
        agent = _agent(
            AGENT_USERNAME,
            first="Bench",
            last="Agent",
            role=User.Role.AGENT,
            teams=[teams[0]],
            password=PASSWORD,
        )
        supervisor = _agent(
            SUPERVISOR_USERNAME,
            first="Bench",
            last="Supervisor",
            role=User.Role.SUPERVISOR,
            teams=teams,
            password=PASSWORD,
        )
        members: dict[int, list[User]] = {t.pk: [] for t in teams}
        members[teams[0].pk].append(agent)
        index = 0
        for t_index, team in enumerate(teams):
            for _k in range(AGENTS_PER_TEAM):
                index += 1
                # Every fourth colleague also works for the next team.
                extra = [teams[(t_index + 1) % len(teams)]] if index % 4 == 0 else []
                name = person_name(index * 13 + 5)
                first, _, last = name.partition(" ")
                user = _agent(
                    f"agent{index:02d}",
                    first=first,
                    last=last,
                    role=User.Role.AGENT,
                    teams=[team, *extra],
                    password=None,
                )
                for member_team in [team, *extra]:
                    members[member_team.pk].append(user)
        tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    refs = [
        TeamRef(team=t, spec=Calendar.objects.get(pk=t.calendar_id).spec(), agents=members[t.pk])
        for t in teams
    ]
    return Reference(
        teams=refs,
        weights=[share for _n, _s, share, _m in TEAMS],
        agent=agent,
        supervisor=supervisor,
        tags=tags,
    )


# --------------------------------------------------------------------------------------------
# Customers


def _customer_email(index: int) -> str:
    return f"c{index}@{BENCH_DOMAIN}"


def _customer_language(index: int) -> str:
    return "fr" if (index * 2654435761) % 100 < FRENCH_SHARE else "en"


def ensure_customers(
    count: int, *, now: datetime, seed: int, batch: int = 5000, progress: bool = True
) -> dict[int, tuple[int, str, str]]:
    """Customers 0..count-1 (created if missing): index -> (pk, display name, language)."""
    suffix = "@" + BENCH_DOMAIN
    existing: dict[int, int] = {}
    for value, customer_id in (
        Identity.objects.filter(kind=Identity.Kind.EMAIL, value__endswith=suffix)
        .values_list("value", "customer_id")
        .iterator(chunk_size=10000)
    ):
        existing[int(value[1 : -len(suffix)])] = customer_id
    missing = [i for i in range(count) if i not in existing]
    created = 0
    bar = _bar(len(missing), "customers", progress)
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        rng = random.Random(seed * 7919 + chunk[0])
        with transaction.atomic():
            customers = [
                Customer(
                    display_name=person_name(i),
                    preferred_language=_customer_language(i),
                    created_at=now - timedelta(days=rng.uniform(20, 1100)),
                )
                for i in chunk
            ]
            Customer.objects.bulk_create(customers, batch_size=1000)
            identities = []
            for i, customer in zip(chunk, customers, strict=True):
                existing[i] = customer.pk
                identities.append(
                    Identity(
                        customer_id=customer.pk,
                        kind=Identity.Kind.EMAIL,
                        value=_customer_email(i),
                        verified=True,
                        created_at=customer.created_at,
                    )
                )
                if rng.random() < PHONE_SHARE:
                    # 06 10 00 00 00 + index: valid French mobile numbers, in E.164 form.
                    identities.append(
                        Identity(
                            customer_id=customer.pk,
                            kind=Identity.Kind.PHONE,
                            value=f"+336{10_000_000 + i:08d}",
                            created_at=customer.created_at,
                        )
                    )
            Identity.objects.bulk_create(identities, batch_size=1000, ignore_conflicts=True)
        created += len(chunk)
        bar.update(len(chunk))
    bar.close()
    return {
        i: (pk, person_name(i), _customer_language(i)) for i, pk in existing.items() if i < count
    }


# --------------------------------------------------------------------------------------------
# Conversations


def bench_conversations_count() -> int:
    return Conversation.objects.filter(
        customer__identities__kind=Identity.Kind.EMAIL,
        customer__identities__value__endswith="@" + BENCH_DOMAIN,
    ).count()


def _pick_customer(rng: random.Random, count: int) -> int:
    # A fifth of the conversations come from a small set of frequent customers.
    if rng.random() < 0.2:
        return rng.randrange(max(1, count // 20))
    return rng.randrange(count)


def _directions(rng: random.Random, status: str) -> list[str]:
    """Message directions, first inbound, matching the final status."""
    k = rng.randint(2, 6)
    if status == Status.NEW:
        k = min(k, 3)
        return ["inbound"] + [rng.choice(["inbound", "inbound", "note"]) for _ in range(k - 1)]
    seq = ["inbound", "outbound"]
    while len(seq) < k:
        if rng.random() < 0.15:
            seq.append("note")
        else:
            last = next(d for d in reversed(seq) if d != "note")
            seq.append("inbound" if last == "outbound" else "outbound")
    last_real = max(i for i, d in enumerate(seq) if d != "note")
    wants_outbound = status in (Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED)
    if status == Status.OPEN:
        wants_outbound = rng.random() < 0.4
    seq[last_real] = "outbound" if wants_outbound or last_real == 0 else "inbound"
    if "outbound" not in seq:
        seq[1] = "outbound"
    return seq


def _gap(rng: random.Random, previous: str, current: str) -> timedelta:
    if current == "note":
        return timedelta(minutes=rng.uniform(5, 240))
    if current == "outbound":
        return timedelta(minutes=rng.uniform(10, 1440))
    return timedelta(minutes=rng.uniform(60, 4320))


@dataclass
class _Planned:
    conversation: Conversation
    messages: list[Message]
    # (message index or None, Event) in time order; message pks are filled in after insert.
    events: list[tuple[int | None, Event]]
    tags: list[Tag]


def _plan(
    j: int,
    *,
    seed: int,
    n: int,
    now: datetime,
    ref: Reference,
    customers: dict[int, tuple[int, str, str]],
    corpus: Corpus,
    numbers: Iterator[int],
) -> _Planned:
    rng = random.Random(seed * 1_000_003 + j)
    # Conversation j is created after conversation j-1 (numbers follow time, and rows lie in
    # the table in creation order as they would): ages go from two years down to a few minutes,
    # denser recently (growth), with `recent` of them in the last two weeks.
    recent = max(0.06, min(0.4, 4500 / max(n, 1)))
    shape = math.log(RECENT_DAYS / HISTORY_DAYS) / math.log(recent)
    remaining = (n - j - rng.random()) / n  # in (0, 1]: 1 for the oldest
    age = timedelta(days=HISTORY_DAYS * remaining**shape) + timedelta(minutes=20)
    created = now - age
    # Most conversations of the last two weeks are still active, fewer as they age.
    active = age < timedelta(days=RECENT_DAYS) and rng.random() < 0.95 - 0.55 * (
        age / timedelta(days=RECENT_DAYS)
    )
    if active:
        status = _weighted(rng, ACTIVE_MIX)
    else:
        status = (
            Status.CLOSED if age > timedelta(days=9) and rng.random() < 0.88 else Status.RESOLVED
        )
    team_ref = rng.choices(ref.teams, weights=ref.weights)[0]
    team = team_ref.team
    spec = team_ref.spec
    customer_pk, customer_name, language = customers[_pick_customer(rng, len(customers))]
    channel = _weighted(rng, CHANNELS)
    assignee: User | None
    if status == Status.NEW:
        assignee = rng.choice(team_ref.agents) if rng.random() < 0.2 else None
    else:
        assignee = rng.choice(team_ref.agents)
    responder = assignee or rng.choice(team_ref.agents)

    directions = _directions(rng, status)
    offsets = [timedelta(0)]
    for previous, current in pairwise(directions):
        offsets.append(offsets[-1] + _gap(rng, previous, current))
    horizon = now - timedelta(minutes=1) - created
    if offsets[-1] > horizon * 0.9:  # squeeze recent conversations into the time they have had
        factor = (horizon * 0.9) / offsets[-1]
        offsets = [o * factor for o in offsets]
    times = [created + o for o in offsets]

    pairs = corpus.customer_sentences(language)
    intent, first_sentence = rng.choice(pairs)
    lang = "fr" if language == "fr" else "en"
    subject = first_sentence[:80].strip()

    conversation = Conversation(
        number=next(numbers),
        subject=subject,
        customer_id=customer_pk,
        team=team,
        assignee=assignee,
        status=status,
        priority=_weighted(rng, PRIORITIES),
        channel=channel,
        language=language,
        intent=intent,
        created_at=created,
        first_human_response_due=add_business_time(
            spec, created, timedelta(minutes=team.first_response_minutes)
        ),
        resolution_due=add_business_time(spec, created, timedelta(minutes=team.resolution_minutes)),
    )
    messages: list[Message] = []
    events: list[tuple[int | None, Event]] = [
        (
            None,
            Event(
                verb="conversation.created",
                actor_name=customer_name,
                created_at=created,
                data={"channel": channel, "customer_created": rng.random() < 0.6},
            ),
        )
    ]
    agent_name = responder.display_name
    last_inbound: datetime | None = None
    last_message_at = created
    first_outbound: datetime | None = None
    for k, (direction, at) in enumerate(zip(directions, times, strict=True)):
        if direction == "inbound":
            first = first_sentence if k == 0 else rng.choice(corpus.sentences(lang))
            recorded = channel in RECORDED_CHANNELS and k == 0
            messages.append(
                Message(
                    direction=Message.Direction.INBOUND,
                    channel=channel,
                    author_kind=Message.AuthorKind.CUSTOMER,
                    author_agent=responder if recorded else None,
                    author_name=customer_name,
                    text=message_text(
                        rng,
                        kind="inbound",
                        language=lang,
                        corpus=corpus,
                        first=first,
                        name=customer_name,
                    ),
                    external_id=f"<bench.{j}.{k}@{BENCH_DOMAIN}>" if channel == "email" else "",
                    created_at=at,
                )
            )
            events.append(
                (
                    k,
                    Event(
                        verb="message.received",
                        actor_name=customer_name,
                        actor=responder if recorded else None,
                        created_at=at,
                        data={"channel": channel},
                    ),
                )
            )
            last_inbound = at
            last_message_at = at
        elif direction == "outbound":
            agent_sentences = FR_AGENT if lang == "fr" else EN_AGENT
            messages.append(
                Message(
                    direction=Message.Direction.OUTBOUND,
                    channel=channel,
                    author_kind=Message.AuthorKind.AGENT,
                    author_agent=responder,
                    author_name=agent_name,
                    text=message_text(
                        rng,
                        kind="outbound",
                        language=lang,
                        corpus=corpus,
                        first=rng.choice(agent_sentences),
                        name=agent_name,
                    ),
                    delivery_status=(
                        Message.DeliveryStatus.SENT
                        if channel in {"email", "sms"}
                        else Message.DeliveryStatus.NONE
                    ),
                    created_at=at,
                )
            )
            if first_outbound is None:
                first_outbound = at
                if status != Status.NEW and (assignee is None or assignee == responder):
                    events.append(
                        (
                            None,
                            Event(
                                verb="assigned",
                                actor=responder,
                                actor_name=agent_name,
                                created_at=at,
                                data={
                                    "to": responder.pk,
                                    "to_name": agent_name,
                                    "reason": "replied",
                                },
                            ),
                        )
                    )
            events.append(
                (
                    k,
                    Event(
                        verb="message.sent",
                        actor=responder,
                        actor_name=agent_name,
                        created_at=at,
                        data={},
                    ),
                )
            )
            last_message_at = at
        else:
            notes = FR_NOTES if lang == "fr" else EN_NOTES
            messages.append(
                Message(
                    direction=Message.Direction.NOTE,
                    channel=channel,
                    author_kind=Message.AuthorKind.AGENT,
                    author_agent=responder,
                    author_name=agent_name,
                    text=message_text(
                        rng,
                        kind="note",
                        language=lang,
                        corpus=corpus,
                        first=rng.choice(notes),
                        name=agent_name,
                    ),
                    created_at=at,
                )
            )
            events.append(
                (
                    k,
                    Event(
                        verb="note.added",
                        actor=responder,
                        actor_name=agent_name,
                        created_at=at,
                        data={},
                    ),
                )
            )
    if status == Status.NEW and assignee is not None:
        events.append(
            (
                None,
                Event(
                    verb="assigned",
                    actor=ref.supervisor,
                    actor_name=ref.supervisor.display_name,
                    created_at=times[0] + timedelta(minutes=5),
                    data={"from": None, "to": assignee.pk, "to_name": assignee.display_name},
                ),
            )
        )

    conversation.last_message_at = last_message_at
    conversation.first_human_response_at = first_outbound
    last_real = next(d for d in reversed(directions) if d != "note")
    if first_outbound is not None and last_real == "inbound" and last_inbound is not None:
        conversation.next_response_due = add_business_time(
            spec, last_inbound, timedelta(minutes=team.next_response_minutes)
        )
    updated = times[-1]
    if status in (Status.WAITING_CUSTOMER, Status.WAITING_THIRD_PARTY):
        updated = times[-1] + (now - times[-1]) * rng.uniform(0, 0.5)
        events.append(
            (
                None,
                Event(
                    verb="status.changed",
                    actor=responder,
                    actor_name=agent_name,
                    created_at=updated,
                    data={"from": Status.OPEN, "to": status},
                ),
            )
        )
    if status in (Status.RESOLVED, Status.CLOSED):
        resolved_at = min(
            times[-1] + timedelta(hours=rng.uniform(0.1, 48)), now - timedelta(minutes=2)
        )
        conversation.resolved_at = resolved_at
        events.append(
            (
                None,
                Event(
                    verb="status.changed",
                    actor=responder,
                    actor_name=agent_name,
                    created_at=resolved_at,
                    data={"from": Status.OPEN, "to": Status.RESOLVED},
                ),
            )
        )
        updated = resolved_at
        if status == Status.CLOSED:
            closed_at = min(resolved_at + timedelta(days=7), now - timedelta(minutes=1))
            conversation.closed_at = closed_at
            events.append(
                (
                    None,
                    Event(
                        verb="status.changed",
                        actor_name="Clôture automatique",
                        created_at=closed_at,
                        data={
                            "from": Status.RESOLVED,
                            "to": Status.CLOSED,
                            "reason": "after_7_days",
                        },
                    ),
                )
            )
            updated = closed_at
    if active and status != Status.NEW and rng.random() < 0.05:
        conversation.snoozed_until = now + timedelta(hours=rng.uniform(2, 120))
        events.append(
            (
                None,
                Event(
                    verb="snoozed",
                    actor=responder,
                    actor_name=agent_name,
                    created_at=updated,
                    data={"until": conversation.snoozed_until.isoformat()},
                ),
            )
        )
    conversation.updated_at = updated
    sla.refresh_due_at(conversation)
    tags = rng.sample(ref.tags, rng.choice([1, 1, 2])) if rng.random() < 0.15 else []
    if tags:
        events.append(
            (
                None,
                Event(
                    verb="tags.changed",
                    actor=responder,
                    actor_name=agent_name,
                    created_at=times[0] + timedelta(minutes=1),
                    data={"from": [], "to": sorted(t.name for t in tags)},
                ),
            )
        )
    return _Planned(conversation, messages, sorted(events, key=lambda e: e[1].created_at), tags)


def _reserve_numbers(count: int) -> Iterator[int]:
    """Take `count` numbers from the 'conversation' sequence (call inside a transaction)."""
    sequence, _ = Sequence.objects.select_for_update().get_or_create(
        name="conversation", defaults={"value": SEQUENCE_START}
    )
    top = Conversation.objects.aggregate(top=Max("number"))["top"] or 0
    base = max(sequence.value, top)
    sequence.value = base + count
    sequence.save(update_fields=["value"])
    return iter(range(base + 1, base + count + 1))


def _insert(planned: list[_Planned]) -> tuple[int, int]:
    conversations = [p.conversation for p in planned]
    Conversation.objects.bulk_create(conversations, batch_size=1000)
    messages: list[Message] = []
    for p in planned:
        for message in p.messages:
            message.conversation_id = p.conversation.pk
            messages.append(message)
    Message.objects.bulk_create(messages, batch_size=1000)
    events: list[Event] = []
    through = Tag.conversations.through
    links = []
    for p in planned:
        for message_index, event in p.events:
            event.conversation_id = p.conversation.pk
            if message_index is not None:
                event.data = {"message_id": p.messages[message_index].pk, **event.data}
            events.append(event)
        links += [through(conversation_id=p.conversation.pk, tag_id=t.pk) for t in p.tags]
    Event.objects.bulk_create(events, batch_size=1000)
    through.objects.bulk_create(links, batch_size=1000)
    return len(messages), len(events)


def _bar(total: int, unit: str, progress: bool) -> Any:
    if progress:
        from tqdm import tqdm

        return tqdm(
            total=total,
            unit=f" {unit}",
            unit_scale=True,
            file=sys.stderr,
            leave=False,
            desc=f"filling {unit}",
        )

    class _Null:
        def update(self, _n: int) -> None: ...
        def close(self) -> None: ...

    return _Null()


def fill(
    n: int,
    *,
    seed: int = 2026,
    batch: int = 1000,
    progress: bool = True,
    now: datetime | None = None,
    out: TextIO | None = None,
) -> FillStats:
    """Make the database hold n bench conversations (adding only the missing ones)."""
    started = time.perf_counter()
    now = now or timezone.now()
    corpus = load_corpus()
    ref = reference_data()
    existing = bench_conversations_count()
    stats = FillStats(requested=n, existing_before=existing, corpus=corpus.source)
    if existing < n:
        customer_count = max(1, int(n * CUSTOMERS_PER_CONVERSATION))
        before = Customer.objects.count()
        customers = ensure_customers(customer_count, now=now, seed=seed, progress=progress)
        stats.customers = Customer.objects.count() - before
        bar = _bar(n - existing, "conversations", progress)
        with keep_timestamps():
            for start in range(existing, n, batch):
                end = min(n, start + batch)
                with transaction.atomic():
                    numbers = _reserve_numbers(end - start)
                    planned = [
                        _plan(
                            j,
                            seed=seed,
                            n=n,
                            now=now,
                            ref=ref,
                            customers=customers,
                            corpus=corpus,
                            numbers=numbers,
                        )
                        for j in range(start, end)
                    ]
                    messages, events = _insert(planned)
                stats.conversations += end - start
                stats.messages += messages
                stats.events += events
                bar.update(end - start)
        bar.close()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    stats.seconds = time.perf_counter() - started
    stats.total = {
        "conversations": Conversation.objects.count(),
        "active": Conversation.objects.exclude(status__in=[Status.RESOLVED, Status.CLOSED]).count(),
        "messages": Message.objects.count(),
        "events": Event.objects.count(),
        "customers": Customer.objects.count(),
    }
    if out is not None:
        rate = stats.conversations / stats.seconds if stats.seconds else 0
        out.write(
            f"fill: {stats.conversations} conversations, {stats.messages} messages, "
            f"{stats.events} events, {stats.customers} customers added in {stats.seconds:.1f} s "
            f"({rate:.0f} conversations/s); database now holds "
            + ", ".join(f"{v} {k}" for k, v in stats.total.items())
            + "\n"
            f"text: {corpus.source}\n"
        )
    return stats
