"""Benchmark: how soon the board is usable in a real browser.

    .venv/bin/python bench/browser.py --cards 1000 [--loads 10] [--seed 42] [--keep]

Works on the configured database (DATABASE_URL, default SQLite under var/ or
MLKANBAN_VAR_DIR). Builds a board with bench/board.py's build_board, serves it
with the server `dev.py run` uses (gunicorn, 2 workers × 4 threads, on a free
port), signs the bench owner in with a session cookie, and opens the board in
Debian's chromium (headless, through Playwright) --loads times after one
warm-up load (static files cached, as for someone who opens the board every
morning). The boards are deleted at the end unless --keep.

Measured (medians over the loads, milliseconds from navigation start):
  dcl_ms          DOMContentLoaded finished
  load_ms         the load event finished
  interactive_ms  the board's script bound drag and drop to the first column
                  (it sets the performance mark "board-interactive" then)
  html_bytes      the board page's HTML, decoded

The last line printed is one JSON object with these figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_spec = importlib.util.spec_from_file_location("bench_board", HERE / "board.py")
bench_board = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_board)  # sets up Django

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
INTERACTIVE = "board-interactive"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """gunicorn as dev.py run starts it, with this process's settings (database, secret key)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn), "mlkanban.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--threads", "4", "--log-level", "warning"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), process_group=0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}") from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


def session_cookie(owner) -> dict:
    client = Client()
    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    return {"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "domain": "127.0.0.1", "path": "/"}


TIMINGS = """(name) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const mark = performance.getEntriesByName(name)[0];
  return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, bytes: nav.decodedBodySize,
          interactive: mark ? mark.startTime : null};
}"""


def measure(url: str, cookie: dict, loads: int) -> list[dict]:
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([cookie])
        page = context.new_page()
        for i in range(loads + 1):
            page.goto(url, wait_until="load")
            page.wait_for_function(f"performance.getEntriesByName({INTERACTIVE!r}).length > 0", timeout=30_000)
            page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
            timing = page.evaluate(TIMINGS, INTERACTIVE)
            if i:  # the first load warms the cache
                results.append(timing)
        browser.close()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=1000, help="cards on the board (default 1000)")
    parser.add_argument("--loads", type=int, default=10, help="measured page loads (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the bench board afterwards")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.cards < 1 or args.loads < 1:
        parser.error("--cards and --loads must be at least 1")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database: {connection.vendor} ({connection.settings_dict.get('NAME')})")
    owner, members, created_users = bench_board.ensure_users()
    built = bench_board.build_board(f"bench-browser-{time.strftime('%Y%m%d-%H%M%S')}", args.cards, owner, members,
                                    random.Random(args.seed))
    board_id = built["board"].pk
    port = free_port()
    server = start_server(port)
    try:
        timings = measure(f"http://127.0.0.1:{port}/b/{board_id}/", session_cookie(owner), args.loads)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        if args.keep:
            print(f"kept board {board_id} (--keep)")
        else:
            bench_board.delete_board(board_id)
            get_user_model().objects.filter(username__in=created_users, memberships__isnull=True).delete()

    def median(key):
        return round(statistics.median(t[key] for t in timings), 1)

    for t in timings:
        print(f"load: DOMContentLoaded {t['dcl']:.0f} ms, load {t['load']:.0f} ms, "
              f"interactive {t['interactive']:.0f} ms, {t['bytes']} bytes")
    print(json.dumps({"cards": args.cards, "dcl_ms": median("dcl"), "load_ms": median("load"),
                      "interactive_ms": median("interactive"), "html_bytes": int(median("bytes")),
                      "db": connection.vendor}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
