"""Log in to a running Guichet as a demo agent and save a screenshot of the inbox for the README.

    make run &                      # in another terminal
    .venv/bin/python scripts/screenshot.py --url http://localhost:8000/

Needs the dev tools (`make install-dev`) and Debian's Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from guichet.web.demo import DEMO_LOGINS, DEMO_PASSWORD  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8000/", help="Guichet's address")
    parser.add_argument("--user", default=DEMO_LOGINS[0][0], help="demo login to use")
    parser.add_argument("--language", default="fr", help="interface language (fr or en)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot-inbox.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": 1400, "height": 900},
            locale=args.language,
            extra_http_headers={"Accept-Language": args.language},
        )
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", args.user)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.locator("form:has(input[name=password]) [type=submit]").click()
        page.wait_for_load_state("networkidle")
        if "/login" in page.url:
            print(f"Could not log in as {args.user} at {base}/login/", file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"Saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
