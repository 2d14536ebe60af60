#!/usr/bin/env python
"""Counter benchmarks, one section each; `--only SECTION` runs one of them.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guichet_bench_counter \\
        DATA_DIR=/tmp/guichet-bench-counter .venv/bin/python bench/counter.py --only availability

Point it at a database of its own (run `manage.py migrate` there first): it adds rows.

Sections:

* availability — a site with 30 agents (each present Monday to Friday, 09:00-12:00 and
  14:00-17:00 in Europe/Paris, a few with Saturday mornings or dated extra days), an in-person
  type of 30 minutes, 5,000 booked appointments spread over the next three months (about a
  quarter of the capacity), 40 absences and two closures. It times `slots_search` over the three
  months (92 days: every free slot of every agent) `--repeat` times and prints p50/p95/max, the
  number of slots found and the number of SQL queries; then the one-week search the public
  page runs. Target (issue 5): p95 ≤ 100 ms for the three-month search.

* ocr — OCR throughput (paper mail): `--ocr-pages` generated 300-dpi A4 pages of French text
  (40 lines each) read by Tesseract (fra+eng) through `guichet.channels.paper.ocr`, one page at a
  time and then two at a time (2 cores), in pages per minute. Needs no database rows.

Other sections are added as functions registered in `SECTIONS`.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import random
import secrets
import statistics
import sys
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-int(q * len(sorted_values)) // 100))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def header() -> None:
    from django.db import connection

    print(f"# bench/counter.py — {datetime.now().isoformat(timespec='seconds')}")
    print(
        f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, database {connection.vendor}"
    )


# --- availability --------------------------------------------------------------------------------

AGENTS = 30
APPOINTMENTS = 5_000
DAYS = 92


def availability_fill(*, seed: int) -> tuple[Any, Any]:
    """Create the site, agents, schedules, type, bookings, absences and closures; return them."""
    from django.db import transaction

    from guichet.accounts.models import Site, Team, User
    from guichet.channels.appointments.models import (
        AgentAbsence,
        AgentSchedule,
        Appointment,
        AppointmentType,
        SiteClosure,
    )
    from guichet.conversations.services import message_ingest
    from guichet.conversations.types import InboundMessage
    from guichet.core.calendars import OFFICE_HOURS
    from guichet.core.models import Calendar, OpeningPeriod

    rng = random.Random(seed)
    run = secrets.token_hex(3)
    zone_name = "Europe/Paris"
    with transaction.atomic():
        calendar = Calendar.objects.create(name=f"bench-counter-{run}", time_zone=zone_name)
        hours = {**OFFICE_HOURS, 5: [(time(9), time(12, 30))]}
        OpeningPeriod.objects.bulk_create(
            OpeningPeriod(calendar=calendar, weekday=day, opens=opens, closes=closes)
            for day, intervals in hours.items()
            for opens, closes in intervals
        )
        site = Site.objects.create(name=f"Bench site {run}", calendar=calendar)
        team = Team.objects.create(
            name=f"Bench counter {run}", slug=f"bench-{run}", calendar=calendar
        )
        agents = User.objects.bulk_create(
            User(username=f"bench-counter-{run}-{i}", first_name=f"Agent {i}")
            for i in range(AGENTS)
        )
        team.members.add(*agents)
        site.agents.add(*agents)
        schedules = []
        for index, agent in enumerate(agents):
            for weekday in range(5):
                schedules.append(
                    AgentSchedule(
                        agent=agent, site=site, weekday=weekday, starts=time(9), ends=time(12)
                    )
                )
                schedules.append(
                    AgentSchedule(
                        agent=agent, site=site, weekday=weekday, starts=time(14), ends=time(17)
                    )
                )
            if index % 5 == 0:
                schedules.append(
                    AgentSchedule(agent=agent, site=site, weekday=5, starts=time(9), ends=time(12))
                )
            schedules.append(
                AgentSchedule(
                    agent=agent,
                    site=site,
                    date=date.today() + timedelta(days=rng.randrange(DAYS)),
                    starts=time(17),
                    ends=time(18),
                )
            )
        AgentSchedule.objects.bulk_create(schedules)
        kind = AppointmentType.objects.create(
            name=f"Bench in person {run}", mode="in_person", duration_minutes=30, team=team
        )
        conversation = message_ingest(
            InboundMessage(
                channel="counter",
                sender_kind="email",
                sender_value=f"bench-counter-{run}@bench.example.org",
                text="bench",
            )
        ).conversation
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    today = date.today()
    grid = [time(h, m) for h in (9, 10, 11, 14, 15, 16) for m in (0, 30)]
    taken: set[tuple[int, date, time]] = set()
    rows: list[Appointment] = []
    while len(rows) < APPOINTMENTS:
        day = today + timedelta(days=rng.randrange(1, DAYS))
        if day.weekday() >= 5:
            continue
        agent = agents[rng.randrange(AGENTS)]
        wall = grid[rng.randrange(len(grid))]
        if (agent.pk, day, wall) in taken:
            continue
        taken.add((agent.pk, day, wall))
        starts = datetime.combine(day, wall, zone)
        rows.append(
            Appointment(
                type=kind,
                site=site,
                agent=agent,
                customer=conversation.customer,
                conversation=conversation,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                name="Bench",
                email="bench@bench.example.org",
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=1000)
    AgentAbsence.objects.bulk_create(
        AgentAbsence(
            agent=agents[rng.randrange(AGENTS)],
            starts_at=datetime.combine(today + timedelta(days=d), time(0), zone),
            ends_at=datetime.combine(
                today + timedelta(days=d + rng.randrange(1, 5)), time(0), zone
            ),
        )
        for d in (rng.randrange(DAYS) for _ in range(40))
    )
    SiteClosure.objects.bulk_create(
        SiteClosure(site=site, date=today + timedelta(days=d)) for d in (20, 45)
    )
    return site, kind


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    from django.db import connection, reset_queries

    result = fn()  # warm-up (connection, caches)
    durations = []
    for _ in range(repeat):
        reset_queries()
        started = clock.perf_counter()
        result = fn()
        durations.append((clock.perf_counter() - started) * 1000)
    durations.sort()
    timed.queries = len(connection.queries)  # type: ignore[attr-defined]
    return durations, result


def run_availability(args: argparse.Namespace) -> None:
    from django.conf import settings

    from guichet.channels.appointments.selectors import slots_search

    settings.DEBUG = True  # counts queries (connection.queries)
    started = clock.perf_counter()
    site, kind = availability_fill(seed=args.seed)
    print(f"load average before: {loadavg()}")
    print(
        f"fill: site with {AGENTS} agents, {APPOINTMENTS} appointments over {DAYS} days "
        f"in {clock.perf_counter() - started:.1f} s"
    )
    today = date.today()
    searches = {
        f"3-month search ({DAYS} days)": (today, today + timedelta(days=DAYS - 1)),
        "one-week search (public page)": (today, today + timedelta(days=6)),
    }
    columns = ("runs", "p50 ms", "p95 ms", "max ms", "slots", "queries")
    print(f"{'search':34} " + " ".join(f"{column:>8}" for column in columns))
    for label, (first, last) in searches.items():
        search = functools.partial(
            slots_search, site=site, appointment_type=kind, first_day=first, last_day=last
        )
        durations, slots = timed(search, args.repeat)
        print(
            f"{label:34} {len(durations):>8} {statistics.median(durations):>8.1f} "
            f"{percentile(durations, 95):>8.1f} {durations[-1]:>8.1f} {len(slots):>8} "  # type: ignore[arg-type]
            f"{timed.queries:>8}"  # type: ignore[attr-defined]
        )


# --- ocr ---------------------------------------------------------------------------------------

OCR_PAGE_LINES = 40  # a full A4 letter page of text


def ocr_page(seed: int) -> bytes:
    """A 300-dpi A4 page (2480 x 3508 pixels) of French text, as a grey PNG scan."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    words = [
        *("madame", "monsieur", "je", "vous", "écris", "au", "sujet", "de", "mon", "contrat"),
        *("référence", "client", "facture", "résiliation", "échéance", "prélèvement"),
        *("électricité", "déménagement", "adresse", "réclamation", "délai", "veuillez"),
        *("agréer", "salutations", "distinguées"),
    ]
    rng = random.Random(seed)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 40)
    image = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(image)
    for line in range(OCR_PAGE_LINES):
        text = " ".join(rng.choice(words) for _ in range(11)).capitalize() + "."
        draw.text((200, 250 + line * 75), text, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(300, 300))
    return buffer.getvalue()


def run_ocr(args: argparse.Namespace) -> None:
    """Pages per minute: one page at a time, then two at a time (one per core)."""
    from concurrent.futures import ThreadPoolExecutor

    from guichet.channels.paper.ocr import OcrLimits, ocr_bytes

    pages = [ocr_page(seed) for seed in range(args.ocr_pages)]
    limits = OcrLimits(timeout_seconds=300, memory_mb=1024)
    ocr_bytes(pages[0], "image/png", limits)  # warm-up (language data in the page cache)
    print(f"load average before: {loadavg()}")
    print(f"{'mode':28} {'pages':>6} {'seconds':>8} {'pages/min':>10} {'s/page p50':>10}")
    for workers in (1, 2):
        started = clock.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda page: ocr_bytes(page, "image/png", limits), pages))
        elapsed = clock.perf_counter() - started
        per_page = statistics.median(r.seconds for r in results)
        label = f"{workers} page(s) at a time"
        print(
            f"{label:28} {len(pages):>6} {elapsed:>8.1f} {len(pages) * 60 / elapsed:>10.1f} "
            f"{per_page:>10.2f}"
        )
    words = sum(len(r.text.split()) for r in results)
    expected = 11 * OCR_PAGE_LINES * len(pages)
    print(f"recognised words on the last run: {words} (expected about {expected})")


# --- sections ------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "availability": run_availability,
    "ocr": run_ocr,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per search (50)")
    parser.add_argument("--seed", type=int, default=5, help="random seed of the fill (5)")
    parser.add_argument("--ocr-pages", type=int, default=8, help="A4 pages OCR reads per run (8)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()
    header()
    for name, section in SECTIONS.items():
        if args.only and name != args.only:
            continue
        print(f"\n## {name}")
        section(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
