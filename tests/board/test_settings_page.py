"""The settings page as an owner reads it: columns in board order with the
right arrows, one id per element (every label names its own input), a
question before anything is deleted, and a fixed number of queries however
much the board holds."""

from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from board import services
from board.models import Membership
from tests.factories import UserFactory, make_ticket

pytestmark = pytest.mark.django_db


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.label_targets, self.forms, self.scripts = [], [], [], []
        self.column_rows = []  # [(column id, left disabled, right disabled)]
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label" and "for" in attrs:
            self.label_targets.append(attrs["for"])
        if tag == "form":
            self.forms.append(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src", ""))
        if tag == "tr" and (attrs.get("id") or "").startswith("column-"):
            self._row = [int(attrs["id"].removeprefix("column-")), None, None]
            self.column_rows.append(self._row)
        if tag == "button" and self._row is not None:
            label = attrs.get("aria-label", "")
            if label.endswith(" left"):
                self._row[1] = "disabled" in attrs
            elif label.endswith(" right"):
                self._row[2] = "disabled" in attrs

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None


def read(response) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    return page


def settings_page(client, board, **kwargs):
    response = client.get(f"/b/{board.pk}/settings/", **kwargs)
    assert response.status_code == 200
    return read(response)


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def fill(board, alice, n: int) -> None:
    """n more of everything the settings page lists, each with a card or two."""
    for i in range(n):
        column = services.column_create(board=board, name=f"Extra {i}", wip_limit=None, category="in_progress")
        make_ticket(board, alice, title=f"Card {i}", column=column)
        user = UserFactory(username=f"person{i}", email=f"person{i}@example.org")
        Membership.objects.create(board=board, user=user, role=Membership.Role.MEMBER)
        invitee = UserFactory(username=f"invitee{i}", email=f"invitee{i}@example.org")
        services.invitation_create(board=board, identifier=invitee.email, role="viewer", invited_by=alice)
        services.label_create(board=board, name=f"label {i}", color="#1f7a8c")
        services.epic_create(board=board, name=f"epic {i}", color="#7c3aed")
        start = date(2026, 1, 5) + timedelta(days=14 * i)
        services.sprint_create(board=board, name=f"Sprint {i}", start=start, end=start + timedelta(days=13), goal="")


# --- column order ------------------------------------------------------------------------

def test_a_column_moved_left_is_listed_in_its_new_place_with_its_arrows(owner, board, columns):
    backlog, whiteboarding, implementation, review, done = columns
    make_ticket(board, board.memberships.get(role="owner").user, title="A card in review", column=review)
    # Before:  Backlog | Whiteboarding | Implementation | Code review | Done
    response = owner.post(f"/b/{board.pk}/settings/column_left/{done.pk}/")
    assert response.status_code == 302
    # After:   Backlog | Whiteboarding | Implementation | Done | Code review

    rows = settings_page(owner, board).column_rows

    assert [pk for pk, _, _ in rows] == [backlog.pk, whiteboarding.pk, implementation.pk, done.pk, review.pk]
    assert [(left, right) for _, left, right in rows] == [
        (True, False), (False, False), (False, False), (False, False), (False, True),
    ]


# --- ids and labels ----------------------------------------------------------------------

def test_no_id_is_repeated_and_every_label_names_an_input_of_its_own(owner, board, alice):
    fill(board, alice, 2)

    page = settings_page(owner, board)

    assert [i for i, n in Counter(page.ids).items() if n > 1] == []
    assert page.label_targets and set(page.label_targets) <= set(page.ids)
    assert len(page.label_targets) == len(set(page.label_targets))
    # The add-forms that all have a "name" field keep their own.
    assert {"id_board_name", "id_column_add_name", "id_label_add_name", "id_epic_add_name",
            "id_sprint_add_name"} <= set(page.ids)


def test_a_form_shown_again_with_its_errors_keeps_ids_of_its_own(owner, board):
    response = owner.post(f"/b/{board.pk}/settings/label_add/", {"name": "", "color": "#1f7a8c"})

    assert response.status_code == 422
    page = read(response)
    assert [i for i, n in Counter(page.ids).items() if n > 1] == []
    assert set(page.label_targets) <= set(page.ids)
    assert 'id="id_label_add_name"' in response.content.decode()


# --- confirmation ------------------------------------------------------------------------

def test_every_destructive_button_asks_before_it_posts(owner, board, alice, columns):
    fill(board, alice, 1)

    page = settings_page(owner, board)

    destructive = [f for f in page.forms if any(f"/{action}/" in f["action"] for action in (
        "column_delete", "member_remove", "invite_cancel", "label_delete", "epic_delete", "sprint_delete"))]
    kinds = {f["action"].split("/")[4] for f in destructive}
    assert kinds == {"column_delete", "member_remove", "invite_cancel", "label_delete", "epic_delete", "sprint_delete"}
    assert all(f["method"] == "post" and f.get("data-confirm") for f in destructive)
    assert "/static/js/settings.js" in page.scripts  # asks the question: the CSP allows no inline code


def test_the_question_names_what_goes(owner, board, alice, bob, columns):
    services.label_create(board=board, name="vision", color="#1f7a8c")

    page = settings_page(owner, board)

    questions = {f.get("data-confirm") for f in page.forms}
    assert "Delete the column “Backlog”?" in questions
    assert "Remove Bob Member from the board? They lose access to it." in questions
    assert "Delete the label “vision”? It comes off every card that has it." in questions


@pytest.mark.parametrize("action", ["column_delete", "member_remove", "label_delete"])
def test_a_link_cannot_delete_anything(owner, board, columns, action):
    # Without JavaScript there is no question; what keeps a stray GET harmless is that only a POST acts.
    response = owner.get(f"/b/{board.pk}/settings/{action}/{columns[0].pk}/")
    assert response.status_code == 405


# --- queries -----------------------------------------------------------------------------

def _settings_queries(client, board, django_assert_num_queries):
    # 1 the signed-in user (the session comes from the cache), 2 their membership with the board,
    # 3 the columns for the training-run choices, 4 the columns with their card counts,
    # 5 members with their users, 6 invitations with who sent them, 7 labels, 8 epics, 9 sprints
    with django_assert_num_queries(9):
        response = client.get(f"/b/{board.pk}/settings/")
    assert response.status_code == 200
    return response


def test_the_settings_page_costs_the_same_queries_for_a_small_and_a_full_board(
        owner, board, alice, django_assert_num_queries):
    small = _settings_queries(owner, board, django_assert_num_queries)

    fill(board, alice, 6)
    full = _settings_queries(owner, board, django_assert_num_queries)

    assert len(read(full).column_rows) == len(read(small).column_rows) + 6
