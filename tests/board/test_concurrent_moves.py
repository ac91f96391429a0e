"""Concurrent moves on PostgreSQL: the board lock serialises writers, so ranks
stay unique and ordered, and every accepted move leaves exactly one event and
one board version. Also: rank keys sort bytewise (the "C" collation)."""

import random
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from board import services
from board.models import Board, Ticket, TicketEvent
from tests.factories import make_ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
MOVES_PER_THREAD = 100


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency and the C collation need PostgreSQL")


def ranks_in_database_order(column):
    return list(Ticket.objects.filter(column=column).order_by("rank").values_list("rank", flat=True))


def test_concurrent_moves_keep_ranks_unique_and_every_accepted_move_recorded(board, alice, bob, columns):
    backlog = columns[0]
    # Backlog: T01 … T30
    tickets = [make_ticket(board, alice, title=f"T{i:02}", column=backlog).pk for i in range(1, 31)]
    board.refresh_from_db()
    initial_version = board.version
    events_before = TicketEvent.objects.filter(field__in=("rank", "column")).count()

    start = threading.Barrier(THREADS)
    lock = threading.Lock()
    tally = {"accepted": 0, "refused": 0, "unchanged": 0}
    unexpected = []

    def worker(seed):
        rng = random.Random(seed)
        actor = rng.choice([alice, bob])
        accepted = refused = unchanged = 0
        try:
            start.wait(timeout=30)
            for _ in range(MOVES_PER_THREAD):
                ticket_id = rng.choice(tickets)
                version = Ticket.objects.values_list("version", flat=True).get(pk=ticket_id)
                others = list(Ticket.objects.filter(column=backlog).exclude(pk=ticket_id)
                              .order_by("rank").values_list("pk", flat=True))
                how = rng.random()
                anchors = {}
                if how < 0.35:
                    i = rng.randrange(len(others))
                    anchors = {"after_id": others[i], "before_id": others[i + 1] if i + 1 < len(others) else None}
                elif how < 0.55:
                    anchors = {"before_id": rng.choice(others)}
                elif how < 0.65:
                    anchors = {"after_id": rng.choice(others)}
                else:
                    anchors = {"position": rng.choice(["top", "bottom", "up", "down"])}
                try:
                    result = services.ticket_move(
                        board=board, actor=actor, ticket_id=ticket_id, expected_version=version,
                        to_column_id=backlog.pk, **anchors,
                    )
                except (services.Conflict, ValidationError):
                    refused += 1
                    continue
                if result.rows_written > 0:
                    accepted += 1
                else:
                    unchanged += 1
        except Exception as error:  # noqa: BLE001 - reported below, with the thread that saw it
            with lock:
                unexpected.append(f"thread {seed}: {type(error).__name__}: {error}")
        finally:
            with lock:
                tally["accepted"] += accepted
                tally["refused"] += refused
                tally["unchanged"] += unchanged
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert unexpected == []
    assert tally["accepted"] + tally["refused"] + tally["unchanged"] == THREADS * MOVES_PER_THREAD
    assert tally["accepted"] > 0

    # Backlog: still the same 30 cards, each with its own key
    ranks = ranks_in_database_order(backlog)
    assert len(ranks) == 30
    assert len(set(ranks)) == 30
    # ORDER BY rank is a strict total order, and it is Python's bytewise order
    assert all(a < b for a, b in zip(ranks, ranks[1:], strict=False))
    assert sorted(ranks) == ranks
    assert sorted(ranks, key=lambda r: r.encode()) == ranks
    # one event and one board version per accepted move
    events = TicketEvent.objects.filter(field__in=("rank", "column")).count() - events_before
    assert events == tally["accepted"]
    assert Board.objects.get(pk=board.pk).version == initial_version + tally["accepted"]


def test_postgresql_orders_mixed_case_rank_keys_bytewise(board, alice, columns):
    backlog = columns[0]
    # Backlog, by bytes: B0 Zz a0 a1 (a linguistic collation would say a0 a1 B0 Zz)
    for title, rank in [("third", "a0"), ("first", "B0"), ("fourth", "a1"), ("second", "Zz")]:
        ticket = make_ticket(board, alice, title=title, column=backlog)
        Ticket.objects.filter(pk=ticket.pk).update(rank=rank)
    assert ranks_in_database_order(backlog) == ["B0", "Zz", "a0", "a1"]
    assert list(Ticket.objects.filter(column=backlog).order_by("rank").values_list("title", flat=True)) == [
        "first", "second", "third", "fourth",
    ]
    assert list(Ticket.objects.filter(column=backlog, rank__gt="Zz").order_by("rank")
                .values_list("rank", flat=True)) == ["a0", "a1"]


def test_the_rank_column_uses_the_c_collation(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [Ticket._meta.db_table, "rank"],
        )
        assert cursor.fetchone() == ("C",)
