"""services.ticket_move: where a card lands, what a move writes and records,
flow timestamps, refusals, WIP limits and rank rebalancing.

Columns are drawn in comments before the asserts, top card first, as taiga's
ordering tests do:  # Backlog: A B C  → move C between A and B → A C B
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board import services
from board.models import Board, Ticket, TicketEvent
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------

def titles(column):
    """The column top to bottom, as the board shows it (ordered by rank)."""
    return list(Ticket.objects.filter(column=column).order_by("rank").values_list("title", flat=True))


def move(board, actor, ticket, column, **anchors):
    """Move with the ticket's current version, as a client that just read it."""
    ticket.refresh_from_db()
    return services.ticket_move(
        board=board, actor=actor, ticket_id=ticket.pk, expected_version=ticket.version,
        to_column_id=column.pk, **anchors,
    )


def writes(captured):
    return [
        q["sql"] for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def board_version(board):
    return Board.objects.values_list("version", flat=True).get(pk=board.pk)


def snapshot(board):
    """Everything a refused move must leave alone."""
    return (
        board_version(board),
        sorted(Ticket.objects.filter(board=board).values_list("id", "column_id", "rank", "version",
                                                              "entered_column_at", "started_at", "done_at")),
        TicketEvent.objects.filter(ticket__board=board).count(),
    )


@pytest.fixture
def backlog(columns):
    return columns[0]


@pytest.fixture
def whiteboarding(columns):
    return columns[1]


@pytest.fixture
def implementation(columns):
    return columns[2]


@pytest.fixture
def code_review(columns):
    return columns[3]


@pytest.fixture
def done(columns):
    return columns[4]


@pytest.fixture
def cards(board, alice, backlog):
    """# Backlog: A B C D"""
    return {t: make_ticket(board, alice, title=t, column=backlog) for t in "ABCD"}


@pytest.fixture
def clock():
    """The clock under the test's control (time-machine, so model defaults and
    every other reader of the time see it too): read clock.now, advance with clock.tick()."""

    class Clock:
        def __init__(self, traveller):
            self._traveller = traveller

        @property
        def now(self):
            return timezone.now()

        def tick(self, **delta):
            self._traveller.shift(timedelta(**delta))
            return self.now

    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield Clock(traveller)


# --- where the card lands: within a column ----------------------------------

def test_moving_a_card_between_two_neighbours_puts_it_between_them(board, alice, backlog, cards):
    # Backlog: A B C D  → move D between A and B → A D B C
    move(board, alice, cards["D"], backlog, after_id=cards["A"].pk, before_id=cards["B"].pk)
    assert titles(backlog) == ["A", "D", "B", "C"]


def test_moving_a_card_down_between_two_neighbours(board, alice, backlog, cards):
    # Backlog: A B C D  → move A between C and D → B C A D
    move(board, alice, cards["A"], backlog, after_id=cards["C"].pk, before_id=cards["D"].pk)
    assert titles(backlog) == ["B", "C", "A", "D"]


def test_an_after_anchor_alone_puts_the_card_right_below_it(board, alice, backlog, cards):
    # Backlog: A B C D  → move A after D (bottom drop) → B C D A
    move(board, alice, cards["A"], backlog, after_id=cards["D"].pk)
    assert titles(backlog) == ["B", "C", "D", "A"]


def test_a_before_anchor_alone_puts_the_card_right_above_it(board, alice, backlog, cards):
    # Backlog: A B C D  → move D before A (top drop) → D A B C
    move(board, alice, cards["D"], backlog, before_id=cards["A"].pk)
    assert titles(backlog) == ["D", "A", "B", "C"]
    # Backlog: D A B C  → move A before C → D B A C
    move(board, alice, cards["A"], backlog, before_id=cards["C"].pk)
    assert titles(backlog) == ["D", "B", "A", "C"]


# --- where the card lands: across columns -----------------------------------

def test_moving_across_columns_puts_the_card_between_the_anchors(board, alice, backlog, whiteboarding, cards):
    x = make_ticket(board, alice, title="X", column=whiteboarding)
    y = make_ticket(board, alice, title="Y", column=whiteboarding)
    # Backlog: A B C D      Whiteboarding: X Y
    # → move B between X and Y
    # Backlog: A C D        Whiteboarding: X B Y
    result = move(board, alice, cards["B"], whiteboarding, after_id=x.pk, before_id=y.pk)
    assert titles(backlog) == ["A", "C", "D"]
    assert titles(whiteboarding) == ["X", "B", "Y"]
    assert result.ticket.column_id == whiteboarding.pk


def test_moving_across_columns_to_the_top_and_to_the_bottom(board, alice, backlog, whiteboarding, cards):
    x = make_ticket(board, alice, title="X", column=whiteboarding)
    # Whiteboarding: X  → A before X → A X  → D after X → A X D
    move(board, alice, cards["A"], whiteboarding, before_id=x.pk)
    move(board, alice, cards["D"], whiteboarding, after_id=x.pk)
    assert titles(whiteboarding) == ["A", "X", "D"]
    assert titles(backlog) == ["B", "C"]


def test_moving_into_an_empty_column(board, alice, backlog, code_review, cards):
    # Code review: (empty)  → move C there → C
    move(board, alice, cards["C"], code_review)
    assert titles(code_review) == ["C"]
    # Code review: C  → B to the bottom → C B  → A to the top → A C B
    move(board, alice, cards["B"], code_review, position="bottom")
    move(board, alice, cards["A"], code_review, position="top")
    assert titles(code_review) == ["A", "C", "B"]
    assert titles(backlog) == ["D"]


def test_bottom_and_top_into_an_empty_column(board, alice, code_review, implementation, cards):
    # Code review: (empty) → A to the bottom → A;  Implementation: (empty) → B to the top → B
    move(board, alice, cards["A"], code_review, position="bottom")
    move(board, alice, cards["B"], implementation, position="top")
    assert titles(code_review) == ["A"]
    assert titles(implementation) == ["B"]


# --- anchors from a stale or filtered view ----------------------------------

def test_anchors_from_a_filtered_view_place_the_card_right_after_the_after_card(board, alice, backlog, cards):
    # Backlog (true):          A B C D
    # Backlog (filtered view): A   C D     (B is hidden by a filter)
    # → drop D between A and C in the view → D lands right after A → A D B C
    move(board, alice, cards["D"], backlog, after_id=cards["A"].pk, before_id=cards["C"].pk)
    assert titles(backlog) == ["A", "D", "B", "C"]


def test_anchors_from_a_stale_view_place_the_card_right_after_the_after_card(board, alice, bob, backlog, whiteboarding, cards):
    y = make_ticket(board, alice, title="Y", column=whiteboarding)
    # Alice's (stale) view of Backlog: A B C D
    # Meanwhile bob moved D between A and B: A D B C
    move(board, bob, cards["D"], backlog, after_id=cards["A"].pk, before_id=cards["B"].pk)
    # → alice drops Y between A and B (not adjacent any more) → right after A → A Y D B C
    move(board, alice, y, backlog, after_id=cards["A"].pk, before_id=cards["B"].pk)
    assert titles(backlog) == ["A", "Y", "D", "B", "C"]
    assert titles(whiteboarding) == []


def test_a_stale_after_anchor_wins_over_a_contradicting_before_anchor(board, alice, backlog, whiteboarding, cards):
    x = make_ticket(board, alice, title="X", column=whiteboarding)
    # Backlog: A B C D; the view claims C is right below A (it is not, and C sits below B)
    # → drop X "between A and C" → right after A → A X B C D
    move(board, alice, x, backlog, after_id=cards["A"].pk, before_id=cards["C"].pk)
    assert titles(backlog) == ["A", "X", "B", "C", "D"]


def test_an_anchor_that_left_the_column_is_refused_and_changes_nothing(board, alice, backlog, whiteboarding, cards):
    # Backlog: A B C D → B moves to Whiteboarding → Backlog: A C D
    move(board, alice, cards["B"], whiteboarding)
    before = snapshot(board)
    # A stale view still shows B in Backlog: drop D after B → refused
    with pytest.raises(ValidationError):
        move(board, alice, cards["D"], backlog, after_id=cards["B"].pk)
    with pytest.raises(ValidationError):
        move(board, alice, cards["D"], backlog, before_id=cards["B"].pk)
    assert snapshot(board) == before
    assert titles(backlog) == ["A", "C", "D"]


# --- position: top, bottom, up, down ----------------------------------------

def test_position_top_and_bottom(board, alice, backlog, cards):
    # Backlog: A B C D  → C to the top → C A B D
    move(board, alice, cards["C"], backlog, position="top")
    assert titles(backlog) == ["C", "A", "B", "D"]
    # Backlog: C A B D  → A to the bottom → C B D A
    move(board, alice, cards["A"], backlog, position="bottom")
    assert titles(backlog) == ["C", "B", "D", "A"]


def test_position_up_swaps_with_the_card_above(board, alice, backlog, cards):
    # Backlog: A B C D  → C up → A C B D  → C up → C A B D
    move(board, alice, cards["C"], backlog, position="up")
    assert titles(backlog) == ["A", "C", "B", "D"]
    move(board, alice, cards["C"], backlog, position="up")
    assert titles(backlog) == ["C", "A", "B", "D"]


def test_position_down_swaps_with_the_card_below(board, alice, backlog, cards):
    # Backlog: A B C D  → B down → A C B D  → B down → A C D B
    move(board, alice, cards["B"], backlog, position="down")
    assert titles(backlog) == ["A", "C", "B", "D"]
    move(board, alice, cards["B"], backlog, position="down")
    assert titles(backlog) == ["A", "C", "D", "B"]


@pytest.fixture
def gappy(board, alice, backlog, whiteboarding, cards):
    """# Backlog: A B C D → B and D leave → A C, with a gap between their keys
    (so a key generated next to a neighbour would differ from the card's own)."""
    move(board, alice, cards["B"], whiteboarding)
    move(board, alice, cards["D"], whiteboarding)
    assert titles(backlog) == ["A", "C"]
    return cards


@pytest.mark.parametrize("card, position", [("A", "up"), ("C", "down"), ("A", "top"), ("C", "bottom")])
def test_a_card_already_at_that_end_stays_in_place_and_nothing_is_recorded(board, alice, backlog, gappy, card, position):
    # Backlog: A C  → A up (or to the top) / C down (or to the bottom) → A C, unchanged
    before = snapshot(board)
    result = move(board, alice, gappy[card], backlog, position=position)
    assert result.rows_written == 0
    assert titles(backlog) == ["A", "C"]
    assert snapshot(board) == before


def test_up_on_the_only_card_stays_in_place(board, alice, code_review, cards):
    # Code review: A  → A up → A, A down → A: nothing recorded
    move(board, alice, cards["A"], code_review)
    before = snapshot(board)
    assert move(board, alice, cards["A"], code_review, position="up").rows_written == 0
    assert move(board, alice, cards["A"], code_review, position="down").rows_written == 0
    assert snapshot(board) == before


def test_dropping_a_card_where_it_already_is_records_nothing(board, alice, backlog, gappy):
    # Backlog: A C  → drop C between A and the bottom → A C, unchanged
    before = snapshot(board)
    assert move(board, alice, gappy["C"], backlog, after_id=gappy["A"].pk).rows_written == 0
    assert snapshot(board) == before


def test_up_and_down_are_refused_across_columns(board, alice, whiteboarding, cards):
    before = snapshot(board)
    for position in ("up", "down"):
        with pytest.raises(ValidationError):
            move(board, alice, cards["A"], whiteboarding, position=position)
    assert snapshot(board) == before


def test_an_unknown_position_is_refused(board, alice, backlog, cards):
    with pytest.raises(ValidationError):
        move(board, alice, cards["A"], backlog, position="sideways")


# --- what a move writes and records -----------------------------------------

def test_a_move_within_a_column_writes_three_rows_and_one_rank_event(board, alice, backlog, cards):
    d = cards["D"]
    old_rank = d.rank
    events_before = TicketEvent.objects.count()
    # Backlog: A B C D  → D between A and B → A D B C
    with CaptureQueriesContext(connection) as captured:
        result = move(board, alice, d, backlog, after_id=cards["A"].pk, before_id=cards["B"].pk)
    assert len(writes(captured)) <= 3
    assert result.rows_written == len(writes(captured)) == 3
    assert TicketEvent.objects.count() == events_before + 1
    event = TicketEvent.objects.latest("id")
    assert (event.ticket_id, event.field, event.actor) == (d.pk, "rank", alice)
    assert (event.old, event.new) == (old_rank, result.ticket.rank)
    assert event.board_version == board_version(board) == result.ticket.board_version


def test_a_move_across_columns_writes_three_rows_and_one_column_event(board, alice, backlog, whiteboarding, cards):
    x = make_ticket(board, alice, title="X", column=whiteboarding)
    events_before = TicketEvent.objects.count()
    # Backlog: A B C D  Whiteboarding: X  → B after X → Whiteboarding: X B
    with CaptureQueriesContext(connection) as captured:
        result = move(board, alice, cards["B"], whiteboarding, after_id=x.pk)
    assert len(writes(captured)) <= 3
    assert result.rows_written == 3
    assert TicketEvent.objects.count() == events_before + 1
    event = TicketEvent.objects.latest("id")
    assert (event.field, event.old, event.new) == ("column", backlog.pk, whiteboarding.pk)
    assert (event.old_display, event.new_display) == ("Backlog", "Whiteboarding")
    assert event.actor == alice


def test_a_move_raises_the_ticket_version(board, alice, backlog, cards):
    a = cards["A"]
    result = move(board, alice, a, backlog, position="bottom")
    assert result.ticket.version == a.version + 1
    a.refresh_from_db()
    assert a.version == result.ticket.version


def test_board_version_rises_by_one_per_accepted_move(board, alice, backlog, whiteboarding, done, cards):
    start = board_version(board)
    move(board, alice, cards["A"], backlog, position="bottom")                       # accepted
    move(board, alice, cards["B"], whiteboarding)                                   # accepted
    move(board, alice, cards["C"], done, position="top")                            # accepted
    move(board, alice, cards["B"], whiteboarding, position="up")                    # no-op: only card
    with pytest.raises(services.Conflict):                                          # refused
        services.ticket_move(board=board, actor=alice, ticket_id=cards["D"].pk, expected_version=99,
                             to_column_id=backlog.pk)
    assert board_version(board) == start + 3


# --- flow timestamps --------------------------------------------------------

def test_flow_timestamps_follow_the_column_categories(board, alice, backlog, whiteboarding, implementation, code_review, done, clock):
    t0 = clock.now
    card = make_ticket(board, alice, title="Train baseline", column=backlog)
    assert (card.entered_column_at, card.started_at, card.done_at) == (t0, None, None)

    # Backlog → Whiteboarding (in progress): started now
    t1 = clock.tick(hours=1)
    move(board, alice, card, whiteboarding)
    card.refresh_from_db()
    assert (card.entered_column_at, card.started_at, card.done_at) == (t1, t1, None)

    # Whiteboarding → Implementation (in progress again): started_at is set once
    t2 = clock.tick(hours=5)
    move(board, alice, card, implementation)
    card.refresh_from_db()
    assert (card.entered_column_at, card.started_at, card.done_at) == (t2, t1, None)

    # a reorder within the column is not entering it: the age in column stands
    make_ticket(board, alice, title="Other", column=implementation)
    clock.tick(minutes=3)
    move(board, alice, card, implementation, position="bottom")
    card.refresh_from_db()
    assert titles(implementation) == ["Other", "Train baseline"]
    assert card.entered_column_at == t2

    # Implementation → Done: done now
    t3 = clock.tick(days=1)
    move(board, alice, card, done)
    card.refresh_from_db()
    assert (card.entered_column_at, card.started_at, card.done_at) == (t3, t1, t3)

    # Done → Code review (reopened): done_at cleared, started_at kept
    t4 = clock.tick(hours=2)
    move(board, alice, card, code_review)
    card.refresh_from_db()
    assert (card.entered_column_at, card.started_at, card.done_at) == (t4, t1, None)

    # Code review → Backlog → Done directly
    move(board, alice, card, backlog)
    t5 = clock.tick(hours=2)
    move(board, alice, card, done)
    card.refresh_from_db()
    assert (card.started_at, card.done_at, card.entered_column_at) == (t1, t5, t5)


def test_a_card_that_skips_in_progress_columns_is_never_started(board, alice, backlog, done, clock):
    card = make_ticket(board, alice, title="Duplicate", column=backlog)
    t1 = clock.tick(hours=1)
    move(board, alice, card, done)
    card.refresh_from_db()
    assert (card.started_at, card.done_at) == (None, t1)


# --- refusals ----------------------------------------------------------------

def test_a_stale_version_raises_conflict_and_changes_nothing(board, alice, bob, backlog, whiteboarding, cards):
    a = cards["A"]
    seen_version = a.version
    move(board, bob, a, backlog, position="bottom")  # bob moves A first: A's version rises
    before = snapshot(board)
    with pytest.raises(services.Conflict):
        services.ticket_move(board=board, actor=alice, ticket_id=a.pk, expected_version=seen_version,
                             to_column_id=whiteboarding.pk)
    assert snapshot(board) == before
    assert titles(backlog) == ["B", "C", "D", "A"]


def test_a_column_of_another_board_is_refused(board, alice, charlie, cards):
    other = make_board(charlie, name="Charlie's board")
    foreign = other.columns.order_by("position").first()
    before = snapshot(board)
    with pytest.raises(ValidationError) as error:
        move(board, alice, cards["A"], foreign)
    assert "column" in error.value.message_dict
    assert snapshot(board) == before
    assert not Ticket.objects.filter(column=foreign).exists()


def test_a_ticket_of_another_board_is_refused(board, alice, charlie, backlog):
    other = make_board(charlie, name="Charlie's board")
    foreign_card = make_ticket(other, charlie, title="Theirs")
    with pytest.raises(ValidationError):
        services.ticket_move(board=board, actor=alice, ticket_id=foreign_card.pk,
                             expected_version=foreign_card.version, to_column_id=backlog.pk)
    foreign_card.refresh_from_db()
    assert foreign_card.column.board_id == other.pk


def test_an_anchor_on_another_column_is_refused(board, alice, backlog, whiteboarding, cards):
    x = make_ticket(board, alice, title="X", column=whiteboarding)
    before = snapshot(board)
    # Drop A into Backlog "after X", but X is in Whiteboarding
    with pytest.raises(ValidationError):
        move(board, alice, cards["A"], backlog, after_id=x.pk)
    assert snapshot(board) == before


# --- WIP limits -------------------------------------------------------------

@pytest.fixture
def full_whiteboarding(board, alice, whiteboarding):
    """# Whiteboarding (WIP 3): P Q R — full"""
    assert whiteboarding.wip_limit == 3
    return {t: make_ticket(board, alice, title=t, column=whiteboarding) for t in "PQR"}


def set_wip_mode(board, mode):
    board.refresh_from_db()
    services.board_update(board=board, name=board.name, wip_mode=mode, key=board.key)
    board.refresh_from_db()


def test_hard_wip_refuses_a_move_into_a_full_column(board, alice, backlog, whiteboarding, cards, full_whiteboarding):
    set_wip_mode(board, Board.WipMode.HARD)
    before = snapshot(board)
    # Backlog: A B C D   Whiteboarding (3/3): P Q R  → A into Whiteboarding → refused
    with pytest.raises(services.MoveRefused) as error:
        move(board, alice, cards["A"], whiteboarding, after_id=full_whiteboarding["P"].pk)
    assert "Whiteboarding" in str(error.value)
    assert snapshot(board) == before
    assert titles(whiteboarding) == ["P", "Q", "R"]


def test_hard_wip_allows_reordering_inside_a_full_column(board, alice, whiteboarding, full_whiteboarding):
    set_wip_mode(board, Board.WipMode.HARD)
    # Whiteboarding (3/3): P Q R  → R to the top → R P Q
    result = move(board, alice, full_whiteboarding["R"], whiteboarding, position="top")
    assert result.rows_written == 3
    assert titles(whiteboarding) == ["R", "P", "Q"]


def test_hard_wip_allows_a_move_into_a_column_below_its_limit(board, alice, whiteboarding, cards):
    set_wip_mode(board, Board.WipMode.HARD)
    make_ticket(board, alice, title="P", column=whiteboarding)
    make_ticket(board, alice, title="Q", column=whiteboarding)
    # Whiteboarding (2/3): P Q  → A to the bottom → P Q A (3/3)
    result = move(board, alice, cards["A"], whiteboarding, position="bottom")
    assert result.warning == ""
    assert titles(whiteboarding) == ["P", "Q", "A"]


def test_warn_wip_accepts_the_move_and_returns_a_warning(board, alice, whiteboarding, cards, full_whiteboarding):
    assert board.wip_mode == Board.WipMode.WARN
    # Whiteboarding (3/3): P Q R  → A to the bottom → P Q R A (4/3), with a warning
    result = move(board, alice, cards["A"], whiteboarding, position="bottom")
    assert result.rows_written == 3
    assert "Whiteboarding" in result.warning and "4/3" in result.warning
    assert titles(whiteboarding) == ["P", "Q", "R", "A"]


def test_no_warning_below_the_limit_or_without_a_limit(board, alice, whiteboarding, backlog, done, cards):
    assert move(board, alice, cards["A"], whiteboarding).warning == ""  # 1/3
    assert backlog.wip_limit is None and done.wip_limit is None
    assert move(board, alice, cards["B"], done).warning == ""


# --- rank rebalancing ---------------------------------------------------------

def column_ranks(column):
    return list(Ticket.objects.filter(column=column).order_by("rank").values_list("title", "rank"))


def test_200_drops_into_the_same_gap_keep_keys_short_ordered_and_unique(board, alice, backlog, implementation, done, settings):
    settings.RANK_MAX_LENGTH = 6
    # Backlog: A B F01 … F58        Implementation: X Y Z        Done: W
    # (more cards than drops between two rebalances: the card being moved
    # still holds a key from the previous rebalance when the next one runs)
    expected = ["A", "B"] + [f"F{i:02}" for i in range(1, 59)]
    cards = {t: make_ticket(board, alice, title=t, column=backlog) for t in expected}
    for t in "XYZ":
        make_ticket(board, alice, title=t, column=implementation)
    make_ticket(board, alice, title="W", column=done)
    untouched = sorted(Ticket.objects.exclude(column=backlog).values_list("id", "column_id", "rank", "version"))
    start_version = board_version(board)
    events_before = TicketEvent.objects.count()

    rebalanced = 0
    for _ in range(200):
        # Backlog: A ▸ … last  → drop the last card right below A (always the same gap)
        # → A last …
        last, below_a = expected[-1], expected[1]
        result = move(board, alice, cards[last], backlog, after_id=cards["A"].pk, before_id=cards[below_a].pk)
        expected = [expected[0], last] + expected[1:-1]
        rebalanced += result.rows_written > 3
        ranks = [rank for _, rank in column_ranks(backlog)]
        assert max(len(r) for r in ranks) <= settings.RANK_MAX_LENGTH + 2

    assert rebalanced >= 1, "the test should drive the column into at least one rebalance"
    ordered = column_ranks(backlog)
    assert [title for title, _ in ordered] == expected
    ranks = [rank for _, rank in ordered]
    assert len(set(ranks)) == len(ranks)
    assert sorted(ranks) == ranks  # the database's order is the bytewise order
    assert all(len(r) <= settings.RANK_MAX_LENGTH + 2 for r in ranks)
    # other columns are untouched; each drop is one version and one event
    assert sorted(Ticket.objects.exclude(column=backlog).values_list("id", "column_id", "rank", "version")) == untouched
    assert board_version(board) == start_version + 200
    assert TicketEvent.objects.count() == events_before + 200
    assert set(TicketEvent.objects.order_by("-id").values_list("field", flat=True)[:200]) == {"rank"}


def test_drops_from_another_column_into_the_same_gap_rebalance_the_target_only(board, alice, backlog, implementation, settings):
    settings.RANK_MAX_LENGTH = 6
    # Backlog: A B        Implementation: S01 … S60
    a = make_ticket(board, alice, title="A", column=backlog)
    b = make_ticket(board, alice, title="B", column=backlog)
    sources = [make_ticket(board, alice, title=f"S{i:02}", column=implementation) for i in range(1, 61)]
    expected = ["A", "B"]
    rebalanced = 0
    for card in sources:
        # Backlog: A ▸ … B  → drop the next source card right below A, "before B" from a stale view
        result = move(board, alice, card, backlog, after_id=a.pk, before_id=b.pk)
        rebalanced += result.rows_written > 3
        expected.insert(1, card.title)
        remaining = [t for t, _ in column_ranks(implementation)]
        assert remaining == [s.title for s in sources if s.title not in expected]
    assert rebalanced >= 1
    ordered = column_ranks(backlog)
    assert [title for title, _ in ordered] == expected
    ranks = [rank for _, rank in ordered]
    assert len(set(ranks)) == len(ranks) and sorted(ranks) == ranks
    assert max(len(r) for r in ranks) <= settings.RANK_MAX_LENGTH + 2
    assert titles(implementation) == []


def test_a_rebalancing_move_still_records_one_event_and_one_version(board, alice, backlog, settings):
    settings.RANK_MAX_LENGTH = 3
    # Backlog: A B … L  → keep dropping the bottom card right below A until a rebalance happens
    expected = list("ABCDEFGHIJKL")
    cards = {t: make_ticket(board, alice, title=t, column=backlog) for t in expected}
    for _ in range(50):
        version, events = board_version(board), TicketEvent.objects.count()
        layout = Board.objects.get(pk=board.pk).layout_version
        last = expected[-1]
        result = move(board, alice, cards[last], backlog, after_id=cards["A"].pk)
        expected = [expected[0], last] + expected[1:-1]
        assert board_version(board) == version + 1
        assert TicketEvent.objects.count() == events + 1
        if result.rows_written > 3:
            # re-keyed cards move on every open board: they reload
            assert Board.objects.get(pk=board.pk).layout_version == layout + 1
            break
        assert Board.objects.get(pk=board.pk).layout_version == layout
    else:
        pytest.fail("no rebalance happened in 50 drops")
    assert titles(backlog) == expected
    event = TicketEvent.objects.latest("id")
    assert (event.field, event.new) == ("rank", Ticket.objects.get(pk=cards[expected[1]].pk).rank)
