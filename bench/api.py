"""Benchmark: the JSON API's ticket list and move on a large board.

    .venv/bin/python bench/api.py --tickets 1000 [--repeat 50] [--moves 200] [--seed 42] [--keep]

Works on the configured database (DATABASE_URL, default SQLite under var/ or
MLKANBAN_VAR_DIR). Builds the same boards as bench/board.py (its build_board:
--tickets cards with labels, assignees, comments and a creation history, plus a
100-card board to check that the query count does not grow), signs in with a
session through the test client (as the browsable API and htmx clients do; a
token costs one lookup more), and deletes the boards at the end unless --keep.

Measured:
  list_p50_ms / p95_ms  GET /api/boards/<id>/tickets/?limit=100&offset=k (k over all
                        the pages, in turn), after 5 warm-ups
  list_queries          the most SQL statements one page issued (session and user
                        included); list_queries_100: the same on the 100-card board
  list_1000_p50_ms      GET ?limit=1000 (the whole board in one page), for scale
  move_p50_ms / p95_ms  POST /api/boards/<id>/tickets/<id>/move/ for --moves random moves

The last line printed is one JSON object with these figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/board.py sets up Django (and sys.path) on import; its board builder is shared.
_spec = importlib.util.spec_from_file_location("bench_board", HERE / "board.py")
bench_board = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_board)

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

PAGE = 100


def list_pages(client: Client, board_id: int, n_tickets: int, repeat: int) -> tuple[list[float], int]:
    """Times of `repeat` page requests, walking the pages in turn; the most queries a page took."""
    pages = max(1, -(-n_tickets // PAGE))
    urls = [f"/api/boards/{board_id}/tickets/?limit={PAGE}&offset={k * PAGE}" for k in range(pages)]
    most = 0
    for url in urls:  # warm-up, and the query count of every page
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, f"GET {url} -> {response.status_code}: {response.content[:200]}"
        most = max(most, len(ctx.captured_queries))
    times = []
    for i in range(repeat):
        url = urls[i % pages]
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    return times, most


def whole_board(client: Client, board_id: int, n_tickets: int, repeat: int) -> list[float]:
    url = f"/api/boards/{board_id}/tickets/?limit=1000"
    first = client.get(url)
    assert first.status_code == 200 and len(first.json()["results"]) == min(n_tickets, 1000)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - t0)
    return times


def api_moves(client: Client, state: dict, n: int, rng: random.Random) -> dict:
    board = state["board"]
    times, failures = [], []
    for _ in range(n):
        tid, column, after = bench_board.pick_move(state, rng)
        body = {"version": state["versions"][tid], "column": column, "after": after}
        t0 = time.perf_counter()
        response = client.post(f"/api/boards/{board.pk}/tickets/{tid}/move/", body, content_type="application/json")
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.content[:200].decode(errors='replace')}")
            continue
        times.append(elapsed)
        state["versions"][tid] = response.json()["version"]
        bench_board.apply_move(state, tid, column, after)
    return {"times": times, "failures": failures}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets on the measured board (default 1000)")
    parser.add_argument("--repeat", type=int, default=50, help="timed list requests (default 50)")
    parser.add_argument("--moves", type=int, default=200, help="moves through the API (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the bench boards afterwards")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.tickets < 1 or args.repeat < 1 or args.moves < 0:
        parser.error("--tickets and --repeat must be at least 1, --moves at least 0")

    rng = random.Random(args.seed)
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0, interactive=False)
    db = connection.vendor
    print(f"database: {db} ({connection.settings_dict.get('NAME')})")

    owner, members, created_users = bench_board.ensure_users()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    boards, failed = [], 0
    client = Client()
    client.force_login(owner)
    try:
        big = bench_board.build_board(f"bench-api-{stamp}", args.tickets, owner, members, rng)
        boards.append(big["board"].pk)
        small = bench_board.build_board(f"bench-api-{stamp}-100", 100, owner, members, rng)
        boards.append(small["board"].pk)

        times, queries = list_pages(client, big["board"].pk, args.tickets, args.repeat)
        _, queries_100 = list_pages(client, small["board"].pk, 100, 5)
        p50, p95 = (bench_board.ms(bench_board.percentile(times, p)) for p in (50, 95))
        print(f"ticket list, pages of {PAGE}: p50 {p50:.1f} ms, p95 {p95:.1f} ms; queries {queries} "
              f"({args.tickets} tickets) vs {queries_100} (100 tickets)")
        whole = whole_board(client, big["board"].pk, args.tickets, max(5, args.repeat // 5))
        whole_p50 = bench_board.ms(bench_board.percentile(whole, 50))
        print(f"ticket list, one page of up to 1000: p50 {whole_p50:.1f} ms")

        moves = api_moves(client, big, args.moves, rng)
        move_p50, move_p95 = (bench_board.ms(bench_board.percentile(moves["times"], p)) for p in (50, 95))
        print(f"API moves: {len(moves['times'])} ok, {len(moves['failures'])} failed; "
              f"p50 {move_p50:.1f} ms, p95 {move_p95:.1f} ms")
        for error in moves["failures"][:5]:
            print(f"  move failed: {error}")
        failed = len(moves["failures"])
        if not bench_board.order_matches_db(big):
            print("column order after the moves does NOT match the bench's model")
            failed += 1
    finally:
        client.logout()
        if args.keep:
            print(f"kept boards {boards} (--keep)")
        else:
            for pk in boards:
                bench_board.delete_board(pk)
            get_user_model().objects.filter(username__in=created_users, memberships__isnull=True).delete()

    r1 = bench_board.r1
    print(json.dumps({
        "tickets": args.tickets, "list_p50_ms": r1(p50), "list_p95_ms": r1(p95), "list_queries": queries,
        "list_queries_100": queries_100, "list_1000_p50_ms": r1(whole_p50),
        "move_p50_ms": r1(move_p50), "move_p95_ms": r1(move_p95), "db": db,
    }))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
