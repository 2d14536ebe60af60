"""Measure pages over HTTP: a real gunicorn server, logged-in clients, threads, percentiles."""

from __future__ import annotations

import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote_plus

import httpx

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    name: str
    username: str
    paths: list[str]


@dataclass
class Result:
    page: str
    clients: int
    requests: int
    p50: float
    p95: float
    p99: float
    mean: float
    rps: float
    errors: int
    kbytes: float
    statuses: dict[int, int] = field(default_factory=dict)
    by_path: dict[str, list[float]] = field(default_factory=dict)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    port: int, *, workers: int = 2, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Iterator[str]:
    """Run `gunicorn config.wsgi:application` as production would; yield its base URL."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {process.returncode}")
            try:
                httpx.get(base + "/login/", timeout=5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer in time") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def login(base: str, username: str, password: str) -> httpx.Cookies:
    """Log in through the real form (GET for the CSRF cookie, POST); return the session cookies."""
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/login/")
        token = client.cookies.get("csrftoken") or ""
        response = client.post(
            "/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": base + "/login/", "X-CSRFToken": token},
        )
        if response.status_code not in (302, 303) or "sessionid" not in client.cookies:
            raise RuntimeError(f"login as {username} failed: HTTP {response.status_code}")
        return httpx.Cookies(client.cookies)


def sessions(base: str, usernames: Sequence[str], password: str, count: int) -> dict[str, list]:
    """`count` separate logged-in sessions per user (one per concurrent client)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return {
            username: list(pool.map(lambda _i, u=username: login(base, u, password), range(count)))
            for username in usernames
        }


def run(
    base: str, page: Page, cookies: Sequence[httpx.Cookies], *, clients: int, requests: int
) -> Result:
    """`requests` GETs of the page's paths by `clients` threads; latency per request."""
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    barrier = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def client_loop(index: int) -> None:
        with httpx.Client(
            base_url=base, cookies=cookies[index % len(cookies)], timeout=60, follow_redirects=False
        ) as client:
            with suppress(httpx.HTTPError):
                client.get(page.paths[index % len(page.paths)])  # warm-up, not counted
            barrier.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                path = page.paths[i % len(page.paths)]
                started = time.perf_counter()
                try:
                    response = client.get(path)
                    status = response.status_code
                    size = len(response.content)
                except httpx.HTTPError as exc:
                    status, size = 0, 0
                    failures.append(exc)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed * 1000)
                    by_path.setdefault(path, []).append(elapsed * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
                    sizes.append(size)

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    errors = sum(count for status, count in statuses.items() if status != 200)
    return Result(
        page=page.name,
        clients=clients,
        requests=len(latencies),
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        mean=sum(latencies) / max(1, len(latencies)),
        rps=len(latencies) / wall if wall else 0.0,
        errors=errors,
        kbytes=sum(sizes) / max(1, len(sizes)) / 1024,
        statuses=statuses,
        by_path=by_path,
    )


def table(results: Sequence[Result]) -> str:
    width = max([len(r.page) for r in results] + [4])
    head = (
        f"{'page':<{width}}  clients  requests   p50 ms   p95 ms   p99 ms    req/s  errors"
        f"   KB/resp"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        error_text = str(r.errors)
        if r.errors:
            error_text += (
                " (" + ",".join(f"{s}:{c}" for s, c in sorted(r.statuses.items()) if s != 200) + ")"
            )
        lines.append(
            f"{r.page:<{width}}  {r.clients:>7}  {r.requests:>8}  {r.p50:>7.1f}  {r.p95:>7.1f}  "
            f"{r.p99:>7.1f}  {r.rps:>7.1f}  {error_text:>6}  {r.kbytes:>8.1f}"
        )
    return "\n".join(lines)


def machine() -> list[str]:
    """Facts about the machine the figures come from."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"machine: {cores} cores ({os.cpu_count()} CPUs), {cpu}, {memory} RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"load average at start: {load}",
    ]


def per_path(result: Result) -> str:
    """Median latency of each path of a result (e.g. each search query), slowest first."""
    rows = sorted(
        ((statistics.median(v), len(v), path) for path, v in result.by_path.items()), reverse=True
    )
    return "\n".join(
        f"  {median:>8.1f} ms  ({count:>3} requests)  {unquote_plus(path)}"
        for median, count, path in rows
    )
