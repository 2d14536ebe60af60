#!/usr/bin/env python
"""Live chat: N concurrent customers talking to agents through the real WebSocket endpoint.

    .venv/bin/python bench/chat.py --customers 200 --agents 4 --messages 5
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/chat.py --workers 2
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guichet_bench REDIS_URL=... \
        .venv/bin/python bench/chat.py --workers 2 --reset

Sets up a fresh database (SQLite in a temporary DATA_DIR unless DATABASE_URL is given; a
PostgreSQL database that already has teams is emptied with `--reset`, refused otherwise), a team and
`--agents` agents with sessions, then starts uvicorn (`config.asgi`, `--workers` processes; more
than one needs REDIS_URL) on a free loopback port. Every agent opens the chat console; every
customer opens a chat window, then sends `--messages` messages, each after a random pause around
`--think` seconds. Each console receives every customer line of the team (the fan-out a real team
sees); the agent owning a chat answers each message. Printed: customer messages per second
(offered: sent over the sending window; delivered: reached every console, over the window from the
first send to the last delivery), delivery latency from the customer's send to each console's
receipt (p50/p95/p99), and from an agent's reply to the customer's receipt; the CPU time of the
load generator and of the server, and the load average before and after.

Load generator and server share the machine's cores: the generator is one asyncio process, and
its figures are only as good as its own loop's promptness. It measures how late a 10 ms tick of
its loop fires (p99, max) and prints a GENERATOR LAGGING line when that lag could account for a
visible part of the latencies (p99 lag above 50 ms): the figures then describe the generator as
much as the server. Deliveries are counted against the expected count (every customer line on
every console, every reply to its customer) and errors sent back by the server are counted; when
anything is missing or refused the run prints MISSED lines and exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


LAG_LIMIT_MS = 50.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def setup(agents: int, reset: bool) -> tuple[list[str], str]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from guichet.accounts.services import agent_create, team_create
    from guichet.core.calendars import OFFICE_HOURS
    from guichet.core.models import Calendar, OpeningPeriod

    call_command("migrate", verbosity=0)
    from guichet.accounts.models import Team

    if Team.objects.exists():
        # New chats go to the first team: a used database would send them to another team.
        if not reset:
            raise SystemExit("the database already has teams: use an empty one, or --reset")
        call_command("flush", interactive=False, verbosity=0)
    calendar = Calendar.objects.create(name="Bench", time_zone="Europe/Paris")
    for weekday, intervals in OFFICE_HOURS.items():
        for opens, closes in intervals:
            OpeningPeriod.objects.create(
                calendar=calendar, weekday=weekday, opens=opens, closes=closes
            )
    suffix = str(int(time.time()))
    team = team_create(name=f"Chat bench {suffix}", slug=f"chat-bench-{suffix}", calendar=calendar)
    cookies = []
    for n in range(agents):
        user = agent_create(
            username=f"chat-bench-{suffix}-{n}", password="bench-password-123", teams=[team]
        )
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    return cookies, settings.SECRET_KEY


def wait_triaged(messages: int, seconds: float) -> None:
    from guichet.triage.models import Prediction

    deadline = time.monotonic() + seconds
    while Prediction.objects.values("message_id").distinct().count() < messages:
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up messages were not triaged in time")
        time.sleep(0.2)


async def run(args: argparse.Namespace, cookies: list[str], port: int) -> dict[str, object]:
    from websockets.asyncio.client import connect

    base = f"ws://127.0.0.1:{port}"
    origin = f"http://127.0.0.1:{port}"
    sent_at: dict[str, float] = {}
    reply_sent_at: dict[str, float] = {}
    delivery: list[float] = []
    reply_latency: list[float] = []
    done = asyncio.Event()
    expected_replies = args.customers * args.messages
    received_replies = 0
    errors: dict[str, int] = {"console": 0, "customer": 0}
    error_texts: dict[str, int] = {}
    lag: list[float] = []
    first_delivery: dict[str, float] = {}  # text -> when the last console received it
    delivered_to: dict[str, set[int]] = {}  # text -> consoles that received it
    duplicates = {"console": 0}
    owner: dict[int, int] = {}  # conversation number -> agent index

    consoles = []
    for cookie in cookies:
        ws = await connect(
            base + "/ws/chat/console/",
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            max_queue=None,
            compression=None if args.no_compression else "deflate",
        )
        assert json.loads(await ws.recv())["type"] == "ready"
        consoles.append(ws)

    async def console_loop(index: int, ws: object) -> None:
        async for raw in ws:  # type: ignore[attr-defined]
            now = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") == "error":
                errors["console"] += 1
                message = str(frame.get("message"))
                error_texts[message] = error_texts.get(message, 0) + 1
                continue
            if frame.get("type") != "line":
                continue
            if frame["kind"] == "inbound" and frame["text"] in sent_at:
                # Counted once per console (a console may be sent a line again: a chat
                # moved to another team is sent whole).
                seen_by = delivered_to.setdefault(frame["text"], set())
                if index in seen_by:
                    duplicates["console"] += 1
                    continue
                seen_by.add(index)
                delivery.append(now - sent_at[frame["text"]])
                if len(seen_by) == len(consoles):
                    first_delivery[frame["text"]] = now
                number = frame["number"]
                if owner.setdefault(number, number % len(consoles)) == index:
                    text = "re " + frame["text"]
                    reply_sent_at[text] = time.perf_counter()
                    await ws.send(  # type: ignore[attr-defined]
                        json.dumps({"type": "reply", "number": number, "text": text})
                    )

    async def customer(cid: int) -> None:
        nonlocal received_replies
        async with connect(
            base + "/ws/chat/",
            origin=origin,  # type: ignore[arg-type]
            max_queue=None,
            compression=None if args.no_compression else "deflate",
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "language": "fr"}))

            async def reader() -> None:
                nonlocal received_replies
                async for raw in ws:
                    now = time.perf_counter()
                    frame = json.loads(raw)
                    if frame.get("type") == "error":
                        errors["customer"] += 1
                        message = str(frame.get("message"))
                        error_texts[message] = error_texts.get(message, 0) + 1
                    if frame.get("type") == "line" and frame["kind"] == "outbound":
                        if frame["text"] in reply_sent_at:
                            reply_latency.append(now - reply_sent_at[frame["text"]])
                        received_replies += 1

            task = asyncio.create_task(reader())
            await asyncio.sleep(random.uniform(0, args.think))
            for seq in range(args.messages):
                text = f"bench {cid} {seq}"
                sent_at[text] = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text, "id": str(seq)}))
                if seq < args.messages - 1:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * args.think)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=args.drain)
            task.cancel()

    async def watcher() -> None:
        # Done when every reply reached its customer and every line every console.
        while not done.is_set():
            if received_replies >= expected_replies and len(first_delivery) >= expected_replies:
                done.set()
            await asyncio.sleep(0.05)

    async def ticker() -> None:
        # How late the generator's own loop runs: a late tick delays every receipt it stamps.
        tick = 0.01
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(tick)
            lag.append(time.perf_counter() - before - tick)

    console_tasks = [asyncio.create_task(console_loop(i, ws)) for i, ws in enumerate(consoles)]
    console_tasks.append(asyncio.create_task(watcher()))
    console_tasks.append(asyncio.create_task(ticker()))
    started = time.perf_counter()
    cpu_started = time.process_time()
    await asyncio.gather(*(customer(cid) for cid in range(args.customers)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    for task in console_tasks:
        task.cancel()
    for ws in consoles:
        await ws.close()
    sends = sorted(sent_at.values())
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "send_window": (sends[-1] - sends[0]) if sends else float("nan"),
        "delivered": len(first_delivery),
        "delivery_window": (max(first_delivery.values()) - sends[0])
        if first_delivery
        else float("nan"),
        "sent": len(sent_at),
        "deliveries": len(delivery),
        "expected_deliveries": len(sent_at) * len(consoles),
        "delivery": delivery,
        "replies": received_replies,
        "expected_replies": expected_replies,
        "errors": errors,
        "duplicates": duplicates["console"],
        "error_texts": error_texts,
        "lag": lag,
        "reply_latency": reply_latency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--messages", type=int, default=5, help="messages per customer")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between messages")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for replies")
    parser.add_argument(
        "--reset", action="store_true", help="empty the DATABASE_URL database if it has teams"
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="no permessage-deflate (browsers negotiate it: on by default)",
    )
    args = parser.parse_args()
    if args.workers > 1 and not os.environ.get("REDIS_URL"):
        parser.error("more than one worker needs REDIS_URL (the in-memory layer is per process)")
    data_dir = tempfile.mkdtemp(prefix="guichet-bench-chat-")
    os.environ.setdefault("DATA_DIR", data_dir)
    os.environ.setdefault("TASKS_BACKEND", "immediate")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    cookies, secret = setup(args.agents, args.reset)
    env = {**os.environ, "SECRET_KEY": secret}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--fd",
            str(sock.fileno()),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
            "--ws-max-queue",
            "1000",
        ],
        cwd=ROOT,
        env=env,
        pass_fds=(sock.fileno(),),
    )
    sock.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        # Warm up: the first message of a process loads the triage models, after its reply
        # (triage runs after the push): wait until every warm-up message is triaged, or the
        # loading would fall in the measured run. A few chats, so that each worker gets one.
        warm = argparse.Namespace(
            **{**vars(args), "customers": 4 * args.workers, "messages": 1, "think": 0.1}
        )
        warm_result = asyncio.run(run(warm, cookies, port))
        wait_triaged(int(warm_result["sent"]), seconds=120)  # type: ignore[call-overload]
        load_before = load_average()
        server_cpu = cpu_seconds(server.pid)
        result = asyncio.run(run(args, cookies, port))
        server_cpu = cpu_seconds(server.pid) - server_cpu
        load_after = load_average()
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    delivery = [v * 1000 for v in result["delivery"]]  # type: ignore[attr-defined]
    replies = [v * 1000 for v in result["reply_latency"]]  # type: ignore[attr-defined]
    database = os.environ.get("DATABASE_URL", "sqlite").split(":")[0]
    print(f"bench/chat.py  {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, database {database}, "
        f"layer {'redis' if os.environ.get('REDIS_URL') else 'in-memory'}, "
        f"{args.workers} uvicorn worker(s)"
    )
    print(
        f"customers {args.customers}, agents {args.agents}, messages/customer {args.messages}, "
        f"think ~{args.think}s"
    )
    print(f"load average (1, 5, 15 min): before {load_before}, after {load_after}")
    print(
        f"customer messages sent: {result['sent']} in {result['send_window']:.1f} s "
        f"= {result['sent'] / result['send_window']:.1f} messages/s (offered)"
    )
    print(
        f"customer messages delivered to every console: {result['delivered']} in "
        f"{result['delivery_window']:.1f} s = "
        f"{result['delivered'] / result['delivery_window']:.1f} messages/s "
        f"(stored, pushed to every console)"
    )
    print(f"console deliveries: {result['deliveries']} of {result['expected_deliveries']}")
    print(
        f"delivery latency send -> console (ms): p50 {percentile(delivery, 50):.1f}  "
        f"p95 {percentile(delivery, 95):.1f}  p99 {percentile(delivery, 99):.1f}  "
        f"max {max(delivery, default=float('nan')):.1f}"
    )
    print(
        f"agent replies received by customers: {result['replies']} of "
        f"{result['expected_replies']}; reply latency (ms): "
        f"p50 {percentile(replies, 50):.1f}  p95 {percentile(replies, 95):.1f}  "
        f"p99 {percentile(replies, 99):.1f}"
    )
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    print(
        f"CPU over the {elapsed:.1f} s run: server {server_cpu:.1f} s "
        f"({100 * server_cpu / elapsed:.0f}% of one core), load generator "
        f"{result['cpu']:.1f} s ({100 * float(result['cpu']) / elapsed:.0f}%)"  # type: ignore[arg-type]
    )
    lines = verdict(result)
    for line in lines:
        print(line)
    if any(line.startswith("MISSED") for line in lines):
        sys.exit(1)


def verdict(result: dict[str, object]) -> list[str]:
    """The lines that say whether the run can be trusted: the generator's own lag, then a MISSED
    line for each kind of loss or refusal (the caller exits with status 1 on any)."""
    lines = []
    lag = [v * 1000 for v in result["lag"]]  # type: ignore[attr-defined]
    lag_p99 = percentile(lag, 99)
    lines.append(
        f"load generator loop lag (ms): p50 {percentile(lag, 50):.1f}  p99 {lag_p99:.1f}  "
        f"max {max(lag, default=float('nan')):.1f}"
    )
    if lag_p99 > LAG_LIMIT_MS:
        lines.append(
            f"GENERATOR LAGGING: its loop ran {lag_p99:.0f} ms late (p99): the latencies above "
            "include the generator's own delay, not only the server's"
        )
    errors: dict[str, int] = result["errors"]  # type: ignore[assignment]
    error_texts: dict[str, int] = result["error_texts"]  # type: ignore[assignment]
    if result["deliveries"] != result["expected_deliveries"]:
        lines.append(
            f"MISSED console deliveries: {result['deliveries']} of "
            f"{result['expected_deliveries']} expected"
        )
    if result["replies"] != result["expected_replies"]:
        lines.append(
            f"MISSED agent replies: {result['replies']} of {result['expected_replies']} "
            "reached their customer"
        )
    if errors["console"] or errors["customer"]:
        refused = "; ".join(f"{n} x {text!r}" for text, n in error_texts.items())
        lines.append(
            f"MISSED refused by the server: {errors['customer']} customer message(s), "
            f"{errors['console']} agent reply(ies): {refused}"
        )
    return lines


if __name__ == "__main__":
    main()
