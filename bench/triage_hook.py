"""Time the triage ingest hook (language, signals, intent, routing, assignment) per message.

Point it at a database of its own (it ingests messages):

    export DATA_DIR=/tmp/guichet-bench-triage
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/triage_hook.py --n 300

Prints the hook's own time (the `ms` each `triage.decided` event records) and the whole
`message_ingest` time, p50 and p99, with 3 available agents in the team.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

TEXTS = [
    "Bonjour, ma carte bancaire est bloquée depuis hier soir, pouvez-vous m'aider ?",
    "Hello, I was charged twice for the same purchase last week.",
    "Je veux parler à quelqu'un, c'est la troisième fois que j'écris !",
    "Mon mari est décédé le mois dernier, que faire pour le compte joint ?",
    "Could you send me a copy of my contract please?",
    "C'est urgent : on m'a volé mon téléphone et ma carte.",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()

    from guichet.accounts.models import Team, User
    from guichet.accounts.services import agent_create, team_create
    from guichet.conversations.models import Event
    from guichet.conversations.services import message_ingest
    from guichet.conversations.types import InboundMessage
    from guichet.core.models import Calendar
    from guichet.triage import language

    calendar = Calendar.objects.first() or Calendar.objects.create(name="Bench")
    team = Team.objects.filter(slug="bench-triage").first() or team_create(
        name="Bench triage", slug="bench-triage", calendar=calendar
    )
    for i in range(3):
        if not User.objects.filter(username=f"bench-triage-{i}").exists():
            agent_create(username=f"bench-triage-{i}", password=None, teams=[team], capacity=10_000)
    User.objects.filter(username__startswith="bench-triage-").update(available=True)
    started = time.perf_counter()
    language.warm_up()
    print(f"language models loaded in {time.perf_counter() - started:.2f} s")
    run = int(time.time())
    ingest_ms: list[float] = []
    ids: list[int] = []
    for i in range(args.n):
        inbound = InboundMessage(
            channel="email",
            sender_kind="email",
            sender_value=f"bench{run}-{i}@example.org",
            text=TEXTS[i % len(TEXTS)],
            team_id=team.pk,
        )
        started = time.perf_counter()
        result = message_ingest(inbound)
        ingest_ms.append((time.perf_counter() - started) * 1000)
        ids.append(result.conversation.pk)
    hook_ms = [
        float(data["ms"])
        for data in Event.objects.filter(
            conversation_id__in=ids, verb="triage.decided"
        ).values_list("data", flat=True)
    ]
    print(f"messages: {args.n}  database: {django.db.connection.vendor}")
    print(
        f"triage hook ms: p50 {statistics.median(hook_ms):.1f}  p99 {percentile(hook_ms, 0.99):.1f}"
    )
    print(
        f"whole ingest ms: p50 {statistics.median(ingest_ms):.1f}  "
        f"p99 {percentile(ingest_ms, 0.99):.1f}"
    )


if __name__ == "__main__":
    main()
