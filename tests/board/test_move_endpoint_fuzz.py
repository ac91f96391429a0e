"""Property test of the move endpoint: whatever a client posts, the answer is
200, 409 or 422 (never a 500) and the board stays consistent.

Each example builds its own board (and a second board to borrow foreign ids
from), then sends a short sequence of moves with real, foreign and garbage
values; the invariants are checked after every request.
"""

import re

import pytest
from django.db.models import Count, F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from board.models import Board, Ticket, TicketEvent
from tests.factories import make_board, make_ticket

HTMX = {"HTTP_HX_REQUEST": "true"}
N_CARDS = 7
CARD_COLUMNS = [0, 0, 0, 1, 2, 2, 4]  # where the cards start (Backlog, Whiteboarding, ...)
GARBAGE_IDS = [-1, 0, 2**70, 2**62, "x", "", " ", "1.5", "1e3"]

ticket_ref = st.one_of(
    st.tuples(st.just("card"), st.integers(0, N_CARDS - 1)),
    st.tuples(st.just("card"), st.integers(0, N_CARDS - 1)),  # twice: mostly real cards
    st.tuples(st.just("foreign card"), st.integers(0, 1)),
    st.tuples(st.just("raw"), st.sampled_from(GARBAGE_IDS)),
)
column_ref = st.one_of(
    st.tuples(st.just("column"), st.integers(0, 4)),
    st.tuples(st.just("column"), st.integers(0, 4)),
    st.tuples(st.just("foreign column"), st.integers(0, 2)),
    st.tuples(st.just("raw"), st.sampled_from(GARBAGE_IDS)),
)
neighbour_ref = st.one_of(
    st.none(),
    st.tuples(st.just("card"), st.integers(0, N_CARDS - 1)),
    st.tuples(st.just("foreign card"), st.integers(0, 1)),
    st.tuples(st.just("raw"), st.sampled_from(GARBAGE_IDS)),
)
version_ref = st.one_of(
    st.just("right"),
    st.just("right"),
    st.just("stale"),
    st.tuples(st.just("raw"), st.sampled_from([0, -1, 2**40, "x", "", "1.5"])),
)
position_ref = st.sampled_from([None, "", "top", "bottom", "up", "down", "sideways", "TOP", "0"])

move_strategy = st.fixed_dictionaries({
    "ticket": ticket_ref, "column": column_ref, "after": neighbour_ref, "before": neighbour_ref,
    "version": version_ref, "position": position_ref,
})


class World:
    """One example's boards, built from scratch."""

    def __init__(self, alice, charlie, wip_mode, n):
        self.board = make_board(alice, name=f"Fuzz {n}")
        Board.objects.filter(pk=self.board.pk).update(wip_mode=wip_mode)
        self.columns = list(self.board.columns.order_by("position"))
        self.cards = [make_ticket(self.board, alice, title=f"Card {i}", column=self.columns[c]).pk
                      for i, c in enumerate(CARD_COLUMNS)]
        self.foreign = make_board(charlie, name=f"Foreign {n}")
        self.foreign_columns = list(self.foreign.columns.order_by("position"))
        self.foreign_cards = [make_ticket(self.foreign, charlie, title=f"Foreign {i}").pk for i in range(2)]
        self.creation_events = TicketEvent.objects.filter(ticket__board=self.board).count()
        self.changing_moves = 0

    def resolve(self, ref):
        kind, value = ref
        return {
            "card": lambda: self.cards[value],
            "foreign card": lambda: self.foreign_cards[value],
            "column": lambda: self.columns[value].pk,
            "foreign column": lambda: self.foreign_columns[value].pk,
            "raw": lambda: value,
        }[kind]()

    def post_data(self, move):
        data = {"ticket": self.resolve(move["ticket"]), "column": self.resolve(move["column"])}
        ticket = Ticket.objects.filter(pk=data["ticket"]).first() if isinstance(data["ticket"], int) and 0 < data["ticket"] < 2**62 else None
        current = ticket.version if ticket else 1
        if move["version"] == "right":
            data["version"] = current
        elif move["version"] == "stale":
            data["version"] = current - 1 if current > 1 else current + 1
        else:
            data["version"] = move["version"][1]
        for name in ("after", "before"):
            if move[name] is not None:
                data[name] = self.resolve(move[name])
        if move["position"] is not None:
            data["position"] = move["position"]
        return data

    def state(self):
        return {
            "board_version": Board.objects.get(pk=self.board.pk).version,
            "tickets": {t["id"]: t for t in Ticket.objects.filter(board=self.board).values("id", "column_id", "rank", "version")},
            "events": TicketEvent.objects.filter(ticket__board=self.board).count(),
            "foreign": sorted(Ticket.objects.filter(board=self.foreign).values_list("id", "column_id", "rank", "version")),
            "foreign_events": TicketEvent.objects.filter(ticket__board=self.foreign).count(),
        }

    @staticmethod
    def order(state, column_id, exclude=None):
        cards = [t for t in state["tickets"].values() if t["column_id"] == column_id and t["id"] != exclude]
        return [t["id"] for t in sorted(cards, key=lambda t: t["rank"])]


def check_invariants(world):
    # ranks are unique within each column (on every board)
    assert not Ticket.objects.values("column_id", "rank").annotate(n=Count("id")).filter(n__gt=1).exists()
    # every ticket sits in a column of its own board
    assert not Ticket.objects.exclude(column__board_id=F("board_id")).exists()
    # history: the creation events plus one event per move that changed something
    assert TicketEvent.objects.filter(ticket__board=world.board).count() == world.creation_events + world.changing_moves


def check_placement(world, before, after, move, data):
    """A 200 puts the card where the request asked."""
    tid, target = data["ticket"], data["column"]
    old_column = before["tickets"][tid]["column_id"]
    order = world.order(after, target)
    idx = order.index(tid)
    position = data.get("position") or None
    if position == "top":
        assert idx == 0
    elif position == "bottom":
        assert idx == len(order) - 1
    elif position == "up":
        assert idx == max(world.order(before, old_column).index(tid) - 1, 0)
    elif position == "down":
        assert idx == min(world.order(before, old_column).index(tid) + 1, len(order) - 1)
    elif data.get("after"):
        assert order[idx - 1] == data["after"]
    elif data.get("before"):
        assert order[idx + 1] == data["before"]
    else:
        assert idx == 0  # no neighbours: the top of the column
    # the other cards keep their order in every column
    for column in world.columns:
        assert world.order(after, column.pk, exclude=tid) == world.order(before, column.pk, exclude=tid)


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(wip_mode=st.sampled_from([Board.WipMode.WARN, Board.WipMode.HARD]),
       moves=st.lists(move_strategy, min_size=1, max_size=6))
def test_any_move_request_answers_200_409_or_422_and_keeps_the_board_consistent(client, alice, charlie, wip_mode, moves):
    world = World(alice, charlie, wip_mode, n=Board.objects.count())
    client.force_login(alice)
    check_invariants(world)

    for move in moves:
        data = world.post_data(move)
        before = world.state()

        response = client.post(f"/b/{world.board.pk}/move/", data, **HTMX)

        after = world.state()
        assert response.status_code in (200, 409, 422), (data, response.status_code, response.content[:300])
        assert after["foreign"] == before["foreign"] and after["foreign_events"] == before["foreign_events"]
        if response.status_code != 200:
            assert after == before, f"a refused move ({response.status_code}) changed something: {data}"
            assert response.content, "a refusal says why"
            check_invariants(world)
            continue

        # only a real card of this board, at its current version, into a column of this board, can succeed
        assert move["ticket"][0] == "card" and move["version"] == "right" and move["column"][0] == "column", data
        tid = data["ticket"]
        old, new = before["tickets"][tid], after["tickets"][tid]
        assert new["column_id"] == data["column"]
        check_placement(world, before, after, move, data)
        moved = (new["column_id"], new["rank"]) != (old["column_id"], old["rank"])
        if moved:
            world.changing_moves += 1
            assert new["version"] == old["version"] + 1
            assert after["board_version"] == before["board_version"] + 1
            assert after["events"] == before["events"] + 1
            assert re.search(rf'id="card-{tid}" data-id="{tid}" data-version="{new["version"]}"', response.content.decode())
        else:
            assert new["version"] == old["version"]
            assert after == before
        # no other card changed column or version (a rebalance may re-key ranks, keeping the order)
        for pk, t in before["tickets"].items():
            if pk != tid:
                assert (after["tickets"][pk]["column_id"], after["tickets"][pk]["version"]) == (t["column_id"], t["version"])
        check_invariants(world)


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=st.lists(st.tuples(st.integers(0, N_CARDS - 1), st.sampled_from(["top", "bottom", "up", "down", "same"])),
                      min_size=1, max_size=8))
def test_a_move_that_leaves_a_card_where_it_is_records_nothing(client, alice, charlie, moves):
    """Dropping a card on its own slot (or "up" at the top, "down" at the
    bottom) is not a change: no event, no version bump."""
    world = World(alice, charlie, Board.WipMode.WARN, n=Board.objects.count())
    client.force_login(alice)

    for index, position in moves:
        tid = world.cards[index]
        before = world.state()
        column = before["tickets"][tid]["column_id"]
        order = world.order(before, column)
        data = {"ticket": tid, "version": before["tickets"][tid]["version"], "column": column}
        if position == "same":  # dropped between its current neighbours
            i = order.index(tid)
            if i > 0:
                data["after"] = order[i - 1]
            elif i + 1 < len(order):
                data["before"] = order[i + 1]
            else:
                data["position"] = "top"
        else:
            data["position"] = position

        response = client.post(f"/b/{world.board.pk}/move/", data, **HTMX)

        assert response.status_code == 200
        after = world.state()
        new_order = world.order(after, column)
        if new_order == order:
            assert after["events"] == before["events"], f"a no-op move ({position}) recorded an event"
            assert after["tickets"][tid]["version"] == before["tickets"][tid]["version"]
            assert after["board_version"] == before["board_version"]
        else:
            assert after["events"] == before["events"] + 1
