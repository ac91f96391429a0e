"""Benchmark: render a large board and move cards on it.

    .venv/bin/python bench/board.py --cards 1000 [--repeat 30] [--moves 200] [--seed 42] [--keep]

Works on the configured database (DATABASE_URL, default SQLite under var/ or
MLKANBAN_VAR_DIR). It migrates first, builds its own boards ("bench-<stamp>",
plus a 100-card one to check that the query count does not grow with the
board) and its own users (bench-owner, bench-member-1..6), and deletes the
boards again at the end unless --keep. Nothing else in the database is
touched. Building the boards is setup and is not timed.

Measured:
  p50_ms / p95_ms        GET /b/<id>/ with the test Client (after 5 warm-ups)
  queries / queries_100  SQL statements of one board request (session and user
                         lookups included) for the N-card and 100-card boards
  move_p50_ms / p95_ms   POST /b/<id>/move/ (htmx) for --moves random moves
  rows_written_per_move  INSERT/UPDATE/DELETE statements per HTTP move (mean)
  move_service_p50_ms    services.ticket_move called directly, --moves more

The last line printed is one JSON object with these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on sys.path, where this file would
# shadow the `board` app: drop it and put the repository root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlkanban.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from fractional_indexing import generate_n_keys_between  # noqa: E402

from board import services  # noqa: E402
from board.models import Board, Column, Comment, Label, Membership, Ticket, TicketEvent  # noqa: E402

User = get_user_model()

OWNER = "bench-owner"
MEMBERS = [f"bench-member-{i}" for i in range(1, 7)]
LABELS = [
    ("data", "#1f7a8c"), ("model", "#7c3aed"), ("infra", "#b45309"), ("eval", "#047857"),
    ("bug", "#b91c1c"), ("paper", "#2563eb"), ("gpu", "#db2777"), ("tech-debt", "#4b5563"),
]
WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE")
VERSION_RE = re.compile(r'data-version="(\d+)"')
COLUMN_RE = re.compile(r'data-column="(\d+)"')


# --- statistics -------------------------------------------------------------

def percentile(values, p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def ms(seconds: float) -> float:
    return seconds * 1000


def r1(value):
    """Rounded to 1 decimal for the JSON line; None when there was nothing to measure."""
    return None if value != value else round(value, 1)  # NaN != NaN


# --- setup ------------------------------------------------------------------

def ensure_users() -> tuple[object, list, list]:
    """The bench users; returns (owner, members, names created by this run)."""
    created_names = []
    users = {}
    for name in [OWNER, *MEMBERS]:
        user, created = User.objects.get_or_create(
            username=name, defaults={"email": f"{name}@bench.invalid", "first_name": "Bench",
                                     "last_name": name.rsplit("-", 1)[-1].title()},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            created_names.append(name)
        users[name] = user
    return users[OWNER], [users[n] for n in MEMBERS], created_names


def build_board(name: str, n_cards: int, owner, members, rng: random.Random) -> dict:
    """A board with n_cards over the ML sprint template's 5 columns; returns
    the board and an in-memory model: column -> ticket ids in rank order."""
    board = services.board_create(user=owner, name=name, template=Board.Template.ML_SPRINT, key="BEN")
    columns = list(board.columns.order_by("position", "id"))
    now = timezone.now()
    with transaction.atomic():
        Membership.objects.bulk_create(
            Membership(board=board, user=m, role=Membership.Role.MEMBER) for m in members
        )
        Label.objects.bulk_create(Label(board=board, name=n, color=c) for n, c in LABELS)
        labels = list(board.labels.order_by("id"))

        tickets = []
        number = 0
        per_column = [n_cards // len(columns) + (1 if i < n_cards % len(columns) else 0)
                      for i in range(len(columns))]
        for column, count in zip(columns, per_column, strict=True):
            keys = generate_n_keys_between(None, None, count) if count else []
            for key in keys:
                number += 1
                entered = now - timedelta(hours=rng.randint(1, 24 * 20))
                started = entered if column.category != Column.Category.TODO else None
                blocked = rng.random() < 0.05
                tickets.append(Ticket(
                    board=board, number=number, column=column, rank=key,
                    title=f"Bench ticket {number}: {rng.choice(['tune', 'train', 'evaluate', 'clean', 'ship'])} "
                          f"{rng.choice(['the tokenizer', 'a baseline', 'the eval set', 'the pipeline', 'LoRA run'])}",
                    description="Generated by bench/board.py." if number % 3 == 0 else "",
                    kind=rng.choice(Ticket.Kind.values),
                    points=rng.choice([None, 1, 2, 3, 5, 8]),
                    assignee=rng.choice(members),
                    blocked=blocked, blocked_reason="waiting on GPUs" if blocked else "",
                    entered_column_at=entered, started_at=started,
                    done_at=entered if column.category == Column.Category.DONE else None,
                    created_by=owner, created_at=entered, updated_at=entered,
                ))
        Ticket.objects.bulk_create(tickets, batch_size=1000)
        Board.objects.filter(pk=board.pk).update(ticket_seq=number, version=1)

        # Re-read ids: not every backend returns them from bulk_create.
        rows = list(Ticket.objects.filter(board=board).order_by("column__position", "rank")
                    .values_list("id", "column_id", "number", "created_at"))
        order = {c.pk: [] for c in columns}
        for tid, cid, _, _ in rows:
            order[cid].append(tid)

        Through = Ticket.labels.through
        Through.objects.bulk_create(
            (Through(ticket_id=tid, label_id=label.pk)
             for tid, *_ in rows for label in rng.sample(labels, rng.randint(0, 2))),
            batch_size=2000,
        )
        comments = []
        for tid, _, number, created in rows:
            if number % 10 == 0:
                for i in range(2):
                    comments.append(Comment(ticket_id=tid, author=rng.choice([owner, *members]),
                                            body=f"Bench comment {i + 1} on #{number}.",
                                            created_at=created + timedelta(minutes=i + 1)))
        Comment.objects.bulk_create(comments, batch_size=2000)
        # A history like ticket_create would write, so the move response's
        # event prefetch reads a realistic amount.
        col_name = {c.pk: c.name for c in columns}
        category = {c.pk: c.category for c in columns}
        events = []
        for tid, cid, _, created in rows:
            events.append(TicketEvent(board=board, ticket_id=tid, actor=owner, field="created", at=created,
                                      board_version=len(events) + 1, category=category[cid]))
            events.append(TicketEvent(board=board, ticket_id=tid, actor=owner, field="column", new=cid,
                                      new_display=col_name[cid], at=created, board_version=len(events) + 1,
                                      category=category[cid]))
        TicketEvent.objects.bulk_create(events, batch_size=2000)
        Board.objects.filter(pk=board.pk).update(version=len(events))
    board.refresh_from_db()
    return {"board": board, "columns": columns, "order": order,
            "versions": {tid: 1 for tid, *_ in rows}}


# --- measurements -----------------------------------------------------------

def count_queries(client: Client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, f"GET {url} -> {response.status_code}"
    return len(ctx.captured_queries), response


def time_board(client: Client, url: str, repeat: int, warmup: int = 5) -> tuple[list[float], list[float]]:
    """Wall-clock times and this process's CPU times (the database server's
    work is not in the latter: it tells rendering from waiting)."""
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert response.status_code == 200, f"GET {url} -> {response.status_code}"
    return times, cpu


def pick_move(state: dict, rng: random.Random) -> tuple[int, int, int | None]:
    """A random card, a random column and a random neighbour to drop it after
    (None, i.e. the top, when the column is empty, or one time in ten)."""
    all_ids = list(state["versions"])
    tid = rng.choice(all_ids)
    column = rng.choice(state["columns"]).pk
    candidates = [t for t in state["order"][column] if t != tid]
    after = None if not candidates or rng.random() < 0.1 else rng.choice(candidates)
    return tid, column, after


def apply_move(state: dict, tid: int, column: int, after: int | None) -> None:
    for ids in state["order"].values():
        if tid in ids:
            ids.remove(tid)
            break
    target = state["order"][column]
    target.insert(0 if after is None else target.index(after) + 1, tid)


def http_moves(client: Client, state: dict, n: int, rng: random.Random) -> dict:
    board = state["board"]
    url = reverse("board:ticket-move", args=[board.pk])
    times, writes, statements, failures = [], [], [], []
    for _ in range(n):
        tid, column, after = pick_move(state, rng)
        data = {"ticket": tid, "version": state["versions"][tid], "column": column}
        if after is not None:
            data["after"] = after
        try:
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                # urlencoded, as htmx posts it (the test client would send multipart)
                response = client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded",
                                       HTTP_HX_REQUEST="true")
                elapsed = time.perf_counter() - t0
        except Exception as error:  # a view that raises is a failed move
            failures.append(f"{type(error).__name__}: {error}")
            continue
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.content[:200].decode(errors='replace')}")
            continue
        html = response.content.decode()
        version, col = VERSION_RE.search(html), COLUMN_RE.search(html)
        if not version or not col or int(col.group(1)) != column:
            failures.append(f"unexpected response for ticket {tid}: {html[:200]}")
            continue
        times.append(elapsed)
        statements.append(len(ctx.captured_queries))
        writes.append(sum(1 for q in ctx.captured_queries
                          if q["sql"].lstrip().upper().startswith(WRITE_PREFIXES)))
        state["versions"][tid] = int(version.group(1))
        apply_move(state, tid, column, after)
    return {"times": times, "writes": writes, "statements": statements, "failures": failures}


def service_moves(owner, state: dict, n: int, rng: random.Random) -> dict:
    times, failures = [], []
    for _ in range(n):
        tid, column, after = pick_move(state, rng)
        board = Board.objects.get(pk=state["board"].pk)  # as a view would load it; not timed
        try:
            t0 = time.perf_counter()
            result = services.ticket_move(board=board, actor=owner, ticket_id=tid,
                                          expected_version=state["versions"][tid],
                                          to_column_id=column, after_id=after)
            elapsed = time.perf_counter() - t0
        except Exception as error:
            failures.append(f"{type(error).__name__}: {error}")
            continue
        times.append(elapsed)
        state["versions"][tid] = result.ticket.version
        apply_move(state, tid, column, after)
    return {"times": times, "failures": failures}


def order_matches_db(state: dict) -> bool:
    for column_id, ids in state["order"].items():
        db_ids = list(Ticket.objects.filter(column_id=column_id).order_by("rank").values_list("id", flat=True))
        if db_ids != ids:
            return False
    return True


def delete_board(board_id: int) -> float:
    t0 = time.perf_counter()
    services.board_purge(board=Board.objects.get(pk=board_id))
    return time.perf_counter() - t0


# --- main -------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=1000, help="cards on the measured board (default 1000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed board requests (default 30)")
    parser.add_argument("--moves", type=int, default=200, help="moves over HTTP, and again through the service")
    parser.add_argument("--keep", action="store_true", help="keep the bench boards afterwards")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.cards < 1 or args.repeat < 1 or args.moves < 0:
        parser.error("--cards and --repeat must be at least 1, --moves at least 0")

    rng = random.Random(args.seed)
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    call_command("migrate", verbosity=0, interactive=False)
    db = connection.vendor  # "postgresql" | "sqlite"
    where = connection.settings_dict.get("NAME")
    print(f"database: {db} ({where}); Django {django.get_version()}; BOARD_PAGE_SIZE={settings.BOARD_PAGE_SIZE}")

    owner, members, created_users = ensure_users()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    boards = []
    client = Client()
    client.force_login(owner)
    failed = 0
    try:
        t0 = time.perf_counter()
        big = build_board(f"bench-{stamp}", args.cards, owner, members, rng)
        boards.append(big["board"].pk)
        small = build_board(f"bench-{stamp}-100", 100, owner, members, rng)
        boards.append(small["board"].pk)
        print(f"setup: boards {big['board'].pk} ({args.cards} cards) and {small['board'].pk} (100 cards) "
              f"built in {time.perf_counter() - t0:.1f} s")

        url = reverse("board:detail", args=[big["board"].pk])
        url_100 = reverse("board:detail", args=[small["board"].pk])
        client.get(url)  # first hit: template loading, URL resolver, etc.
        client.get(url_100)
        queries, response = count_queries(client, url)
        queries_100, _ = count_queries(client, url_100)
        rendered = response.content.decode().count('class="card card-')
        print(f"board page: {len(response.content) / 1024:.0f} KiB, {rendered} cards rendered; "
              f"queries {queries} ({args.cards} cards) vs {queries_100} (100 cards)"
              + ("" if queries == queries_100 else "  <-- grows with the board"))

        times, cpu = time_board(client, url, args.repeat)
        p50, p95 = ms(percentile(times, 50)), ms(percentile(times, 95))
        print(f"board page: p50 {p50:.1f} ms, p95 {p95:.1f} ms, min {ms(min(times)):.1f} ms "
              f"over {args.repeat} requests (CPU in this process: p50 {ms(percentile(cpu, 50)):.1f} ms)")
        times_100, _ = time_board(client, url_100, args.repeat)
        print(f"board page, 100 cards (for scale): p50 {ms(percentile(times_100, 50)):.1f} ms, "
              f"p95 {ms(percentile(times_100, 95)):.1f} ms")

        moves = http_moves(client, big, args.moves, rng)
        mt, mw = moves["times"], moves["writes"]
        move_p50, move_p95 = ms(percentile(mt, 50)), ms(percentile(mt, 95))
        rows_written = sum(mw) / len(mw) if mw else float("nan")
        print(f"HTTP moves: {len(mt)} ok, {len(moves['failures'])} failed; p50 {move_p50:.1f} ms, "
              f"p95 {move_p95:.1f} ms; writes per move mean {rows_written:.2f}"
              + (f" (min {min(mw)}, max {max(mw)})" if mw else "")
              + (f"; SQL statements per move mean {sum(moves['statements']) / len(mw):.1f}" if mw else ""))

        svc = service_moves(owner, big, args.moves, rng)
        svc_p50 = ms(percentile(svc["times"], 50))
        print(f"service moves: {len(svc['times'])} ok, {len(svc['failures'])} failed; "
              f"p50 {svc_p50:.1f} ms, p95 {ms(percentile(svc['times'], 95)):.1f} ms")

        for kind, errors in (("HTTP", moves["failures"]), ("service", svc["failures"])):
            for error in errors[:5]:
                print(f"  {kind} move failed: {error}")
        failed = len(moves["failures"]) + len(svc["failures"])
        matches = order_matches_db(big)
        print(f"column order after the moves matches the bench's model: {'yes' if matches else 'NO'}")
        if not matches:
            failed += 1
    finally:
        client.logout()  # drops the bench session row
        if args.keep:
            print(f"kept boards {boards} (--keep)")
        else:
            spent = sum(delete_board(pk) for pk in boards)
            # Users this run created go too, unless something else uses them now.
            User.objects.filter(username__in=created_users, memberships__isnull=True).delete()
            print(f"cleanup: deleted boards {boards} in {spent:.1f} s")

    result = {
        "cards": args.cards, "queries": queries, "queries_100": queries_100,
        "p50_ms": r1(p50), "p95_ms": r1(p95),
        "rows_written_per_move": r1(rows_written),
        "move_p50_ms": r1(move_p50), "move_p95_ms": r1(move_p95),
        "move_service_p50_ms": r1(svc_p50), "db": db,
    }
    print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
