"""Benchmark: the chart endpoints on a board with a long history.

    .venv/bin/python bench/sprints.py --tickets 1000 --events 50000 [--repeat 20] [--seed 42] [--keep]

Works on the configured database (DATABASE_URL, default SQLite under var/ or
MLKANBAN_VAR_DIR). It migrates first and builds, with bulk_create, a board of
--tickets tickets whose --events events span 90 days and ten sprints (nine
closed, the active one holding 200 tickets), plus a small board (100 tickets,
5,000 events) to check that the query count does not grow. The history is
consistent: each ticket's row is what its events say (column, category,
points, sprint, started/done times, archive). Boards and their history are
erased at the end through services.board_purge unless --keep.

On PostgreSQL it then runs VACUUM (ANALYZE) on the events, tickets and sprints, as
autovacuum would on a live database (statistics, visibility map, no dead rows of
earlier runs).

Measured (p50 of --repeat calls through the test client, after 3 warm-ups; a
garbage collection before each timed call, outside its time):
  burndown_ms  GET /api/boards/<id>/sprints/<active>/burndown/
  cfd_ms       GET /api/boards/<id>/cfd/ over 90 days
  velocity_ms  GET /api/boards/<id>/velocity/
  accuracy_ms  GET /api/boards/<id>/accuracy/
  forecast_ms  GET /api/boards/<id>/sprints/<active>/forecast/ (10,000 trials)
  queries      the most SQL statements any one of them issued (session and user included)
  queries_small  the same on the small board

The last line printed is one JSON object with these figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlkanban.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from fractional_indexing import generate_n_keys_between  # noqa: E402

from board import services  # noqa: E402
from board.models import Board, Column, Sprint, Ticket, TicketEvent  # noqa: E402
from board.timezones import board_tz  # noqa: E402

User = get_user_model()
OWNER = "bench-owner"
DAYS = 90
SPRINTS = 10
ACTIVE_TICKETS = 200
OTHER_FIELDS = [("comment", 0.45), ("rank", 0.25), ("title", 0.1), ("assignee", 0.1), ("blocked", 0.1)]


def build(owner, *, name: str, n_tickets: int, n_events: int, rng: random.Random) -> dict:
    """A board with a consistent history; returns the board and its active sprint."""
    board = services.board_create(user=owner, name=name, key="BEN")
    columns = list(board.columns.order_by("position", "id"))
    tz = board_tz(board)
    now = timezone.now()
    today = now.astimezone(tz).date()
    day0 = today - timedelta(days=DAYS - 1)
    length = DAYS // SPRINTS
    sprint_days = []
    for i in range(SPRINTS):
        start = day0 + timedelta(days=i * length)
        end = start + timedelta(days=length - 1) if i < SPRINTS - 1 else today + timedelta(days=5)
        sprint_days.append((start, end))

    def instant(day, lo=8, hi=19):
        return datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(
            hours=rng.uniform(lo, hi))

    active_count = min(ACTIVE_TICKETS, n_tickets // 5)
    # ticket -> sprint index (None: backlog)
    homes = [SPRINTS - 1] * active_count + [
        (rng.randrange(SPRINTS - 1) if rng.random() < 0.85 else None) for _ in range(n_tickets - active_count)]
    rng.shuffle(homes)
    per_ticket = max(6, n_events // n_tickets)
    plans, total = [], 0
    for number, home in enumerate(homes, start=1):
        if home is None:
            first, last = day0, today
        else:
            start, end = sprint_days[home]
            first, last = max(day0, start - timedelta(days=5)), min(end, today)
        created = instant(first, 7, 8)
        closing = instant(last, 19, 20) if last < today else now - timedelta(minutes=5)
        finish = rng.random() < (0.8 if home is not None and home < SPRINTS - 1 else 0.45)
        plans.append((number, home, created, closing, finish))
        total += per_ticket
    with transaction.atomic():
        sprints = []
        for i, (start, end) in enumerate(sprint_days):
            closed = i < SPRINTS - 1
            sprints.append(Sprint(board=board, name=f"Sprint {i + 1}", start=start, end=end,
                                  state=Sprint.State.CLOSED if closed else Sprint.State.ACTIVE,
                                  started_at=datetime.combine(start, datetime.min.time(), tzinfo=tz),
                                  closed_at=datetime.combine(end, datetime.min.time(), tzinfo=tz) + timedelta(hours=20)
                                  if closed else None))
        Sprint.objects.bulk_create(sprints)
        sprints = list(Sprint.objects.filter(board=board).order_by("start"))
        tickets, raw = [], []
        for number, home, created, closing, finish in plans:
            sprint = sprints[home] if home is not None else None
            kind = rng.choice(Ticket.Kind.values)
            points = rng.choice([1, 2, 3, 5, 8])
            # the column walk: Backlog, then forward (sometimes back), ending in Done if finished
            stops = sorted(created + (closing - created) * rng.random() for _ in range(per_ticket - 5))
            column_index = 0
            history = [("created", None, number, columns[0]), ("column", None, columns[0].pk, columns[0]),
                       ("kind", None, kind, None), ("points", None, points, None),
                       ("sprint", None, sprint.pk if sprint else None, None)]
            if sprint is None:
                history.pop()
            times = [created] * len(history)
            moves = [t for t in stops if rng.random() < 0.4]
            others = [t for t in stops if t not in moves]
            for i, at in enumerate(moves):
                target = 4 if finish and i == len(moves) - 1 else min(3, max(1, column_index + rng.choice([1, 1, -1])))
                if target == column_index:  # no move after all: the card changed place in its column
                    history.append(("rank", None, None, None))
                    times.append(at)
                    continue
                history.append(("column", columns[column_index].pk, columns[target].pk, columns[target]))
                times.append(at)
                column_index = target
            for at in others:
                field = rng.choices([f for f, _ in OTHER_FIELDS], [w for _, w in OTHER_FIELDS])[0]
                if rng.random() < 0.08:
                    field = "points"
                if field == "points":
                    new = rng.choice([1, 2, 3, 5, 8, 13])
                    history.append(("points", points, new, None))
                    points = new
                else:
                    history.append((field, None, 1, None))
                times.append(at)
            order = sorted(range(len(history)), key=lambda k: (times[k], k))
            ticket = Ticket(board=board, number=number, column=columns[column_index], rank="", title=f"Bench {number}",
                            kind=kind, points=points, sprint=sprint, created_by=owner, created_at=created,
                            updated_at=created, entered_column_at=created)
            started = done = None
            for k in order:
                field, old, new, column = history[k]
                if column is not None:
                    if column.category == Column.Category.IN_PROGRESS and started is None:
                        started = times[k]
                    done = times[k] if column.category == Column.Category.DONE else None
                    ticket.entered_column_at = times[k] if field == "column" else ticket.entered_column_at
                raw.append((times[k], number, field, old, new, column))
            ticket.started_at, ticket.done_at = started, done
            archive = home is not None and home < SPRINTS - 2 and rng.random() < 0.05
            if archive:
                at = closing + timedelta(days=3)
                ticket.archived_at = at
                raw.append((at, number, "archived", False, True, None))
            tickets.append(ticket)
        by_column: dict[int, list[Ticket]] = {}
        for ticket in tickets:
            by_column.setdefault(ticket.column_id, []).append(ticket)
        for column_tickets in by_column.values():
            for ticket, key in zip(column_tickets, generate_n_keys_between(None, None, len(column_tickets)),
                                   strict=True):
                ticket.rank = key
        Ticket.objects.bulk_create(tickets, batch_size=1000)
        ids = dict(Ticket.objects.filter(board=board).values_list("number", "id"))
        raw.sort(key=lambda e: e[0])
        events = [TicketEvent(board=board, ticket_id=ids[number], actor=owner, at=at, field=field, old=old, new=new,
                              category=column.category if column is not None else None, board_version=version)
                  for version, (at, number, field, old, new, column) in enumerate(raw, start=1)]
        TicketEvent.objects.bulk_create(events, batch_size=5000)
        Board.objects.filter(pk=board.pk).update(version=len(events), ticket_seq=len(tickets))
        # Closed sprints record their figures at the close, as services.sprint_close does.
        for sprint in sprints[:-1]:
            mine = [t for t in tickets if t.sprint_id == sprint.pk]
            Sprint.objects.filter(pk=sprint.pk).update(
                committed_points=sum(t.points for t in mine),
                completed_points=sum(t.points for t in mine if t.column.category == Column.Category.DONE))
        Sprint.objects.filter(pk=sprints[-1].pk).update(committed_points=sum(
            t.points for t in tickets if t.sprint_id == sprints[-1].pk))
    return {"board": board, "active": sprints[-1], "tickets": len(tickets), "events": len(events),
            "start": day0, "end": today}


def urls(built) -> dict:
    b, s = built["board"].pk, built["active"].pk
    return {
        "burndown": f"/api/boards/{b}/sprints/{s}/burndown/",
        "cfd": f"/api/boards/{b}/cfd/?start={built['start'].isoformat()}&end={built['end'].isoformat()}",
        "velocity": f"/api/boards/{b}/velocity/",
        "accuracy": f"/api/boards/{b}/accuracy/",
        "forecast": f"/api/boards/{b}/sprints/{s}/forecast/",
    }


def measure(client, url: str, repeat: int) -> tuple[float, int]:
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} -> {response.status_code} {response.content[:300]!r}"
    reset_queries()  # the log keeps 9,000 entries: a full one would capture nothing
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    queries = len(ctx.captured_queries)  # now: the next request resets the log
    times = []
    for _ in range(repeat):
        # Start each call with no garbage left by the previous ones: a full collection that
        # falls inside one call (its timing depends on all earlier allocations) is noise here.
        gc.collect()
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), queries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the bench boards afterwards")
    args = parser.parse_args(argv)
    if args.tickets < 50 or args.events < args.tickets * 6 or args.repeat < 1:
        parser.error("--tickets at least 50, --events at least 6 per ticket, --repeat at least 1")
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0, interactive=False)
    db = connection.vendor
    print(f"database: {db} ({connection.settings_dict.get('NAME')}); Django {django.get_version()}")
    owner, created_owner = User.objects.get_or_create(username=OWNER, defaults={"email": "owner@bench.invalid"})
    rng = random.Random(args.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    built = []
    try:
        t0 = time.perf_counter()
        big = build(owner, name=f"bench-sprints-{stamp}", n_tickets=args.tickets, n_events=args.events, rng=rng)
        built.append(big)
        small = build(owner, name=f"bench-sprints-{stamp}-small", n_tickets=100, n_events=5_000, rng=rng)
        built.append(small)
        if connection.vendor == "postgresql":
            # The tables as autovacuum keeps them on a live database: fresh statistics (right after a
            # bulk insert the planner thinks the events table is empty and picks nested bitmap scans)
            # and a current visibility map (without it no index-only scan can skip the table). Where
            # autovacuum is off, it also reclaims the rows earlier runs purged, so that each run
            # measures the same table rather than one that grows with every run.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) board_ticketevent, board_ticket, board_sprint")
        print(f"built {big['tickets']} tickets / {big['events']} events and {small['tickets']} / {small['events']} "
              f"in {time.perf_counter() - t0:.1f} s")
        client = Client()
        client.force_login(owner)
        result = {"tickets": big["tickets"], "events": big["events"]}
        queries, queries_small = 0, 0
        for chart, url in urls(big).items():
            p50, n = measure(client, url, args.repeat)
            result[f"{chart}_ms"] = round(p50, 1)
            queries = max(queries, n)
            print(f"{chart:9} p50 {p50:7.1f} ms  {n} queries")
        for _chart, url in urls(small).items():
            _, n = measure(client, url, 1)
            queries_small = max(queries_small, n)
        result.update(queries=queries, queries_small=queries_small, db=db)
    finally:
        if not args.keep:
            for b in built:
                services.board_purge(board=Board.objects.get(pk=b["board"].pk))
            if created_owner and not Board.objects.filter(memberships__user=owner).exists():
                owner.delete()
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
