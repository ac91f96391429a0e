"""The board page and the poll run a fixed number of SQL queries, whatever
the number of cards; big columns are paged with an htmx sentinel that loads
the next page when it scrolls into view ("intersect")."""

import html
import re

import pytest
from django.utils import timezone
from fractional_indexing import generate_n_keys_between

from board import services
from board.models import Board, Ticket
from tests.factories import make_ticket

HTMX = {"HTTP_HX_REQUEST": "true"}


def bulk_tickets(board, n, *, users, labels, epics):
    """n cards spread over the board's columns, with assignees, labels and
    epics, written in a handful of statements (this module is about reads)."""
    columns = list(board.columns.order_by("position"))
    per_column = {col.pk: [] for col in columns}
    for i in range(n):
        per_column[columns[i % len(columns)].pk].append(i)
    now = timezone.now()
    tickets = []
    for col in columns:
        keys = generate_n_keys_between(None, None, len(per_column[col.pk])) if per_column[col.pk] else []
        for i, key in zip(per_column[col.pk], keys, strict=True):
            tickets.append(Ticket(
                board=board, number=board.ticket_seq + i + 1, column=col, rank=key,
                title=f"Card {i} about tokenizers" if i % 7 == 0 else f"Card {i}",
                kind=Ticket.Kind.BUG if i % 3 == 0 else Ticket.Kind.STORY,
                assignee=users[i % (len(users) + 1)] if i % (len(users) + 1) < len(users) else None,
                epic=epics[i % len(epics)] if i % 2 else None,
                points=i % 8, blocked=i % 11 == 0, blocked_reason="waiting for GPUs" if i % 11 == 0 else "",
                board_version=board.version + 1, entered_column_at=now, created_at=now, updated_at=now,
            ))
    Ticket.objects.bulk_create(tickets)
    tickets = list(Ticket.objects.filter(board=board).order_by("number"))
    through = Ticket.labels.through
    through.objects.bulk_create(
        [through(ticket_id=t.pk, label_id=labels[t.number % len(labels)].pk) for t in tickets]
        + [through(ticket_id=t.pk, label_id=labels[(t.number + 1) % len(labels)].pk) for t in tickets if t.number % 4 == 0]
    )
    Board.objects.filter(pk=board.pk).update(ticket_seq=board.ticket_seq + n, version=board.version + 1)
    board.refresh_from_db()
    return tickets


@pytest.fixture(autouse=True)
def whole_columns(settings):
    """These tests count cards on pages that hold whole columns (up to 200 each); the
    tests of paging set their own page size."""
    settings.BOARD_PAGE_SIZE = 200


@pytest.fixture
def big_board(board, alice, bob, vera):
    """A factory: the `board` with n bulk-created cards."""
    labels = [services.label_create(board=board, name=name, color="#1f7a8c") for name in ("nlp", "vision", "infra")]
    epics = [services.epic_create(board=board, name=name, color="#7c3aed") for name in ("Retrieval", "Eval")]
    board.refresh_from_db()

    def make(n):
        bulk_tickets(board, n, users=[alice, bob, vera], labels=labels, epics=epics)
        return board

    return make


# The board page, for any number of cards (the session is read from the
# cache: SESSION_ENGINE is cached_db):
#   1  the user
#   2  the membership with its board and its pulse (permissions.membership_for)
#   3  the columns with their card counts (for WIP limits)
#   4  the cards: the first page per column (a window function ranks the
#      matching ids in a subquery), only the fields a card shows
#   5  their label ids (the labels themselves come from query 7)
#   6  the members with their users (filters, lanes, avatars)
#   7  the board's labels
#   8  the board's epics
#   9  the board's open sprints
#  10  the queued and running training jobs (board.live: the cards' progress strips)
BOARD_PAGE_QUERIES = 10


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_board_page_runs_the_same_queries_for_10_and_500_cards(client, alice, big_board, n, django_assert_num_queries):
    board = big_board(n)
    client.force_login(alice)

    with django_assert_num_queries(BOARD_PAGE_QUERIES):
        response = client.get(f"/b/{board.pk}/")

    assert response.status_code == 200
    assert response.content.decode().count('class="card card-') == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_swimlanes_by_assignee_run_the_same_queries_for_10_and_500_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    client.force_login(alice)

    # the same 10 queries: lanes come from the members already loaded
    with django_assert_num_queries(BOARD_PAGE_QUERIES):
        response = client.get(f"/b/{board.pk}/?lanes=assignee")

    assert response.status_code == 200
    assert response.content.decode().count('class="card card-') == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_swimlanes_by_epic_run_the_same_queries_for_10_and_500_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    client.force_login(alice)

    # the same 10 queries: lanes come from the epics already loaded
    with django_assert_num_queries(BOARD_PAGE_QUERIES):
        response = client.get(f"/b/{board.pk}/?lanes=epic")

    assert response.status_code == 200
    assert response.content.decode().count('class="card card-') == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_filtered_board_runs_the_same_queries_for_10_and_500_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    client.force_login(alice)
    expected = Ticket.objects.filter(board=board, title__icontains="tokenizers", labels__name="vision").count()
    assert expected > 0

    # the same 10 queries: the filters only narrow query 4
    with django_assert_num_queries(BOARD_PAGE_QUERIES):
        response = client.get(f"/b/{board.pk}/?q=tokenizers&label=vision")

    assert response.status_code == 200
    assert response.content.decode().count('class="card card-') == expected


# The poll with changes, for any number of changed cards:
#   1  the user (the session comes from the cache)
#   2  the membership with its board
#   3  the ids of the cards changed since the client's version
#   4  those of them that match the filters, only the fields a card shows
#   5  their label ids
#   6  the card count per column
#   7  the members with their users   \
#   8  the board's epics                > what the card renderer looks ids up in
#   9  the board's labels              /
#  10  the queued and running training jobs (their progress strips)
POLL_QUERIES = 10


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_poll_with_changes_runs_the_same_queries_for_10_and_500_changed_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    client.force_login(alice)
    since = board.version - 1  # every bulk-created card changed after it

    with django_assert_num_queries(POLL_QUERIES):
        response = client.get(f"/b/{board.pk}/poll/?v={since}&layout={board.layout_version}")

    assert response.status_code == 200
    assert len(response.json()["cards"]) == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_filtered_poll_with_swimlanes_runs_the_same_queries_for_10_and_500_changed_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    client.force_login(alice)
    since = board.version - 1

    with django_assert_num_queries(POLL_QUERIES):
        response = client.get(
            f"/b/{board.pk}/poll/?v={since}&layout={board.layout_version}&lanes=assignee&label=vision"
        )

    assert response.status_code == 200
    data = response.json()
    assert len(data["cards"]) == Ticket.objects.filter(board=board, labels__name="vision").count()
    assert len(data["cards"]) + len(data["gone"]) == n


# The move over HTTP (board.js posts one per drop), whatever the board holds:
#   1  the user (the session comes from the cache)
#   2  the membership with its board
#   3  UPDATE the board's version: takes the board's lock (services.move_sql)
#   4  the board, the ticket, both columns, the assignee, the WIP count and
#      the keys around the drop point, in one SELECT
#   5  UPDATE the ticket
#   6  INSERT its event
# plus SAVEPOINT and RELEASE here, where the test's transaction encloses the
# move's (a request has BEGIN and COMMIT instead). The answer is the card's
# place, version and bottom row: no lookups of labels, epics or runs.
MOVE_QUERIES = 6 + 2


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 500])
def test_a_move_runs_the_same_queries_and_writes_three_rows_for_10_and_500_cards(
    client, alice, big_board, n, django_assert_num_queries
):
    board = big_board(n)
    card = Ticket.objects.filter(board=board, assignee__isnull=False, labels__isnull=False).order_by("rank").first()
    target = board.columns.exclude(pk=card.column_id).order_by("position").first()
    anchor = Ticket.objects.filter(column=target).order_by("rank").first()
    client.force_login(alice)

    with django_assert_num_queries(MOVE_QUERIES) as captured:
        response = client.post(f"/b/{board.pk}/move/", {
            "ticket": card.pk, "version": card.version, "column": target.pk, "after": anchor.pk,
        }, **HTMX)

    assert response.status_code == 200
    assert f'data-column="{target.pk}"' in response.content.decode()
    writes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 3
    assert list(Ticket.objects.filter(column=target).order_by("rank").values_list("pk", flat=True))[:2] == [
        anchor.pk, card.pk,
    ]


# "Load more" (a column's sentinel scrolled into view), for any column length:
#   1  the user
#   2  the membership with its board
#   3  the column
#   4  the next page of cards, only the fields a card shows
#   5  their label ids
#   6  the members with their users   \
#   7  the board's epics                > what the card renderer looks ids up in
#   8  the board's labels              /
#   9  the queued and running training jobs
LOAD_MORE_QUERIES = 9


@pytest.mark.django_db
@pytest.mark.parametrize("n", [150, 600])
def test_load_more_runs_the_same_queries_for_a_short_and_a_long_board(
    client, alice, big_board, n, settings, django_assert_num_queries
):
    settings.BOARD_PAGE_SIZE = 10
    board = big_board(n)
    column = board.columns.order_by("position").first()
    tenth = Ticket.objects.filter(column=column).order_by("rank")[9]
    client.force_login(alice)

    with django_assert_num_queries(LOAD_MORE_QUERIES):
        response = client.get(f"/b/{board.pk}/columns/{column.pk}/more/?after={tenth.rank}", **HTMX)

    assert response.status_code == 200
    assert len(_card_ids(response.content)) == 10


# --- paging a long column --------------------------------------------------------

SENTINEL = re.compile(r'<li class="more" hx-get="([^"]+)" hx-trigger="intersect once"')
CARD_ID = re.compile(r'<li class="card [^"]*" id="card-(\d+)"')


def _sentinels(content: bytes) -> list[str]:
    return [html.unescape(url) for url in SENTINEL.findall(content.decode())]


def _card_ids(content: bytes) -> list[int]:
    return [int(pk) for pk in CARD_ID.findall(content.decode())]


@pytest.fixture
def long_column(board, columns, alice, settings):
    """Backlog with 12 cards, shown 5 at a time."""
    settings.BOARD_PAGE_SIZE = 5
    tickets = [make_ticket(board, alice, title=f"Experiment {i:02d}", column=columns[0]) for i in range(12)]
    return [t.pk for t in sorted(tickets, key=lambda t: t.rank)]


@pytest.mark.django_db
def test_a_long_column_renders_one_page_of_cards_and_a_sentinel_for_the_next(client, alice, board, long_column):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert response.status_code == 200
    assert _card_ids(response.content) == long_column[:5]
    assert len(_sentinels(response.content)) == 1


@pytest.mark.django_db
def test_following_the_sentinels_pages_through_the_column_in_rank_order(client, alice, board, long_column):
    client.force_login(alice)
    first = client.get(f"/b/{board.pk}/")
    [url] = _sentinels(first.content)

    second = client.get(url, **HTMX)
    assert second.status_code == 200
    assert b"<html" not in second.content
    assert _card_ids(second.content) == long_column[5:10]
    [url] = _sentinels(second.content)

    third = client.get(url, **HTMX)
    assert third.status_code == 200
    assert _card_ids(third.content) == long_column[10:12]
    assert _sentinels(third.content) == []


@pytest.mark.django_db
def test_a_column_of_exactly_one_page_has_no_sentinel(client, alice, board, columns, settings):
    settings.BOARD_PAGE_SIZE = 5
    for i in range(5):
        make_ticket(board, alice, title=f"Card {i}", column=columns[0])
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert len(_card_ids(response.content)) == 5
    assert _sentinels(response.content) == []


@pytest.mark.django_db
def test_filters_search_the_whole_board_not_only_the_first_page(client, alice, board, long_column):
    client.force_login(alice)
    deep = Ticket.objects.get(pk=long_column[11])
    assert deep.pk not in _card_ids(client.get(f"/b/{board.pk}/").content)

    response = client.get(f"/b/{board.pk}/?q={deep.title.replace(' ', '+')}")

    assert _card_ids(response.content) == [deep.pk]


@pytest.mark.django_db
def test_the_sentinel_carries_the_filters_to_the_next_page(client, alice, board, columns, settings):
    settings.BOARD_PAGE_SIZE = 2
    bugs = [make_ticket(board, alice, title=f"Bug {i}", kind="bug", column=columns[0]).pk for i in range(5)]
    for i in range(5):
        make_ticket(board, alice, title=f"Story {i}", kind="story", column=columns[0])
    client.force_login(alice)

    first = client.get(f"/b/{board.pk}/?kind=bug")
    [url] = _sentinels(first.content)
    assert "kind=bug" in url
    second = client.get(url, **HTMX)

    assert _card_ids(first.content) + _card_ids(second.content) == bugs[:4]


@pytest.mark.django_db
def test_swimlane_cells_are_paged_per_lane(client, alice, bob, board, columns, settings):
    settings.BOARD_PAGE_SIZE = 2
    bobs = [make_ticket(board, alice, title=f"Bob {i}", assignee=bob, column=columns[0]).pk for i in range(3)]
    make_ticket(board, alice, title="Nobody's", column=columns[0])
    client.force_login(alice)

    first = client.get(f"/b/{board.pk}/?lanes=assignee")
    [url] = _sentinels(first.content)  # only bob's cell overflows
    assert f"lane={bob.pk}" in url
    second = client.get(url, **HTMX)

    assert _card_ids(second.content) == bobs[2:]
    assert _sentinels(second.content) == []
