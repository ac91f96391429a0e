"""Invalid input gets a 4xx with a message, never a 500, and nothing is half-saved.

(The test client re-raises any exception a view lets escape, so a 500 fails
these tests loudly.)
"""

import re

import pytest
from django.contrib.auth import get_user_model

from board import services
from board.models import Board, Column, Comment, Invitation, Membership, Ticket, TicketEvent
from tests.factories import make_board, make_ticket

User = get_user_model()
HTMX = {"HTTP_HX_REQUEST": "true"}


def field_error(content: bytes, field: str) -> str:
    """The error text shown right under a form field: in a form of
    templates/_form_fields.html, or in the card's side panel and in-place
    editors (the control's id is tf-<field>; its error follows it in its form)."""
    html = content.decode()
    match = re.search(
        rf'<div class="field has-error field-{field}">.*?<div class="field-error" role="alert">(.*?)</div>', html, re.S,
    ) or re.search(
        rf'id="tf-{field}[^"]*"(?:(?!</form>).)*?<div class="field-error" role="alert">(.*?)</div>', html, re.S,
    )
    assert match, f"no error shown next to the field {field!r}"
    return match.group(1)


def action_error(content: bytes) -> str:
    match = re.search(r'<div class="form-error" role="alert">(.*?)</div>', content.decode(), re.S)
    assert match, "no error shown on the settings page"
    return match.group(1)


def ticket_state(ticket_id):
    t = Ticket.objects.get(pk=ticket_id)
    return (t.column_id, t.rank, t.title, t.points, t.assignee_id, t.version, t.board_version,
            sorted(t.labels.values_list("pk", flat=True)), TicketEvent.objects.filter(ticket_id=t.pk).count())


@pytest.fixture
def ticket(board, alice, columns):
    return make_ticket(board, alice, title="Fine-tune the encoder", column=columns[0])


@pytest.fixture
def other_board(charlie):
    return make_board(charlie, name="Charlie's board")


# --- the move endpoint -------------------------------------------------------------

def _move(client, board, **data):
    return client.post(f"/b/{board.pk}/move/", data, **HTMX)


@pytest.mark.django_db
@pytest.mark.parametrize("data", [
    {},
    {"ticket": "", "version": "", "column": ""},
    {"version": "1", "column": "1"},  # no ticket
    {"ticket": "{t}", "column": "{c}"},  # no version
    {"ticket": "{t}", "version": "1"},  # no column
    {"ticket": "abc", "version": "1", "column": "{c}"},
    {"ticket": "{t}", "version": "one", "column": "{c}"},
    {"ticket": "{t}", "version": "1", "column": "1.5"},
    {"ticket": "{t}", "version": "1", "column": "-1"},
    {"ticket": "{t}", "version": "0", "column": "{c}"},
    {"ticket": "{t}", "version": str(2**40), "column": "{c}"},
    {"ticket": "{t}", "version": "1", "column": str(2**70)},
    {"ticket": "{t}", "version": "1", "column": "{c}", "after": "x"},
    {"ticket": "{t}", "version": "1", "column": "{c}", "before": "0"},
    {"ticket": "{t}", "version": "1", "column": "{c}", "position": "sideways"},
], ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()) or "empty")
def test_a_move_with_missing_or_garbage_fields_is_422_and_changes_nothing(client, alice, board, columns, ticket, data):
    client.force_login(alice)
    data = {k: v.format(t=ticket.pk, c=columns[1].pk) for k, v in data.items()}
    before = ticket_state(ticket.pk)

    response = _move(client, board, **data)

    assert response.status_code == 422
    assert response.content.decode().startswith("This move was not understood")
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_a_move_to_an_unknown_column_is_422_and_changes_nothing(client, alice, board, ticket):
    client.force_login(alice)
    before = ticket_state(ticket.pk)
    unknown = Column.objects.order_by("-pk").first().pk + 1000

    response = _move(client, board, ticket=ticket.pk, version=ticket.version, column=unknown)

    assert response.status_code == 422
    assert "That column is not on this board" in response.content.decode()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_a_move_to_another_boards_column_is_422_and_changes_nothing(client, alice, board, ticket, other_board):
    client.force_login(alice)
    before = ticket_state(ticket.pk)
    foreign = other_board.columns.first()

    response = _move(client, board, ticket=ticket.pk, version=ticket.version, column=foreign.pk)

    assert response.status_code == 422
    assert "That column is not on this board" in response.content.decode()
    assert ticket_state(ticket.pk) == before
    assert not foreign.tickets.exists()


@pytest.mark.django_db
def test_a_move_of_another_boards_card_is_422_and_changes_nothing(client, alice, charlie, board, columns, other_board):
    foreign = make_ticket(other_board, charlie, title="Not yours")
    client.force_login(alice)
    before = ticket_state(foreign.pk)

    response = _move(client, board, ticket=foreign.pk, version=foreign.version, column=columns[1].pk)

    assert response.status_code == 422
    assert "That card is not on this board" in response.content.decode()
    assert ticket_state(foreign.pk) == before


@pytest.mark.django_db
def test_a_move_after_a_card_of_another_column_is_422(client, alice, board, columns, ticket):
    elsewhere = make_ticket(board, alice, title="Elsewhere", column=columns[2])
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = _move(client, board, ticket=ticket.pk, version=ticket.version, column=columns[1].pk, after=elsewhere.pk)

    assert response.status_code == 422
    assert "no longer in that column" in response.content.decode()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_a_move_with_a_stale_version_is_409_and_changes_nothing(client, alice, bob, board, columns, ticket):
    services.ticket_move(board=board, actor=bob, ticket_id=ticket.pk, expected_version=1, to_column_id=columns[2].pk)
    client.force_login(alice)
    before = ticket_state(ticket.pk)
    board_version = Board.objects.get(pk=board.pk).version

    response = _move(client, board, ticket=ticket.pk, version=1, column=columns[1].pk)

    assert response.status_code == 409
    assert "Someone else changed this card" in response.content.decode()
    assert ticket_state(ticket.pk) == before
    assert Board.objects.get(pk=board.pk).version == board_version


@pytest.mark.django_db
def test_a_move_into_a_full_column_under_a_hard_wip_limit_is_409_with_the_reason(client, alice, board, columns, ticket):
    Board.objects.filter(pk=board.pk).update(wip_mode=Board.WipMode.HARD)
    full = columns[1]  # Whiteboarding, WIP limit 3
    assert full.wip_limit == 3
    for i in range(3):
        make_ticket(board, alice, title=f"Filler {i}", column=full)
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = _move(client, board, ticket=ticket.pk, version=ticket.version, column=full.pk)

    assert response.status_code == 409
    assert response.content.decode() == "“Whiteboarding” is at its WIP limit (3/3). Finish something there first."
    assert ticket_state(ticket.pk) == before
    assert full.tickets.count() == 3


@pytest.mark.django_db
def test_a_move_into_a_full_column_under_a_soft_wip_limit_succeeds_with_a_warning(client, alice, board, columns, ticket):
    for i in range(3):
        make_ticket(board, alice, title=f"Filler {i}", column=columns[1])
    client.force_login(alice)

    response = _move(client, board, ticket=ticket.pk, version=ticket.version, column=columns[1].pk)

    assert response.status_code == 200
    assert "over its WIP limit (4/3)" in response.headers["HX-Trigger"]
    assert Ticket.objects.get(pk=ticket.pk).column_id == columns[1].pk


# --- the ticket editor -------------------------------------------------------------

def _edit(ticket, **overrides):
    data = {
        "version": ticket.version, "title": ticket.title, "description": "", "kind": "story", "points": "",
        "assignee": "", "epic": "", "sprint": "", "timebox_days": 3, "blocked_reason": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("field, value, message", [
    ("title", "", "This field is required."),
    ("title", "    ", "This field is required."),
    ("title", "x" * 201, "Ensure this value has at most 200 characters"),
    ("points", "-1", "Ensure this value is greater than or equal to 0."),
    ("points", "abc", "Enter a whole number."),
    ("points", str(10**20), "Ensure this value is less than or equal to 100."),
    ("timebox_days", "0", "Ensure this value is greater than or equal to 1."),
    ("kind", "epic-saga", "Select a valid choice."),
    ("blocked_reason", "", "Say what blocks the ticket."),
])
def test_an_invalid_ticket_edit_is_422_with_the_error_next_to_the_field_and_saves_nothing(
    client, alice, board, ticket, htmx, field, value, message
):
    client.force_login(alice)
    before = ticket_state(ticket.pk)
    data = _edit(ticket, **{"title": "A new title", field: value})
    if field == "blocked_reason":
        data["blocked"] = "on"

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", data, **(HTMX if htmx else {}))

    assert response.status_code == 422
    assert message in field_error(response.content, field)
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_assigning_a_ticket_to_a_non_member_is_422_and_saves_nothing(client, alice, charlie, board, ticket):
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", _edit(ticket, assignee=charlie.pk), **HTMX)

    assert response.status_code == 422
    assert "Select a valid choice" in field_error(response.content, "assignee")
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_a_label_of_another_board_is_422_and_saves_nothing(client, alice, board, ticket, other_board):
    mine = services.label_create(board=board, name="mine")
    theirs = services.label_create(board=other_board, name="theirs")
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(
        f"/b/{board.pk}/t/{ticket.number}/", _edit(ticket, title="Changed", labels=[mine.pk, theirs.pk]), **HTMX
    )

    assert response.status_code == 422
    assert "Select a valid choice" in field_error(response.content, "labels")
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("relation", ["epic", "sprint"])
def test_an_epic_or_sprint_of_another_board_is_422_and_saves_nothing(client, alice, board, ticket, other_board, relation):
    foreign = (services.epic_create(board=other_board, name="Theirs") if relation == "epic"
               else services.sprint_create(board=other_board, name="Theirs", start="2026-01-01", end="2026-01-14"))
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", _edit(ticket, **{relation: foreign.pk}), **HTMX)

    assert response.status_code == 422
    assert "Select a valid choice" in field_error(response.content, relation)
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["", "abc", "0", str(2**40)])
def test_a_ticket_edit_without_a_usable_version_is_422(client, alice, board, ticket, version):
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", _edit(ticket, title="New", version=version), **HTMX)

    assert response.status_code == 422
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_a_stale_ticket_edit_is_409_shows_the_fresh_card_and_saves_nothing(client, alice, bob, board, ticket):
    services.ticket_update(ticket_id=ticket.pk, board=board, actor=bob, expected_version=1,
                           data=services.TicketInput(title="Bob's title"))
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", _edit(ticket, version=1, title="Alice's title"), **HTMX)

    assert response.status_code == 409
    assert "Someone else changed this card" in response.content.decode()
    assert "Bob&#x27;s title" in response.content.decode()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_editing_a_card_that_does_not_exist_is_404(client, alice, board, ticket):
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/t/{ticket.number + 1}/", _edit(ticket), **HTMX)

    assert response.status_code == 404


# --- quick add and comments ----------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("data", [
    {"title": "", "kind": "story"},
    {"title": "Ok", "kind": "saga"},
    {"title": "x" * 201, "kind": "story"},
    {"title": "Ok", "kind": "story", "column": "abc"},
    {"title": "Ok", "kind": "story", "column": "999999999"},
    {"title": "Ok", "kind": "story", "column": str(2**70)},
], ids=["empty title", "bad kind", "long title", "garbage column", "unknown column", "huge column"])
def test_an_invalid_quick_add_is_422_with_a_message_and_adds_nothing(client, alice, board, data):
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/tickets/new/", data, **HTMX)

    assert response.status_code == 422
    assert "The card was not added" in response.headers["HX-Trigger"]
    assert response.content.decode().startswith("The card was not added: ")
    assert not Ticket.objects.filter(board=board).exists()
    assert Board.objects.get(pk=board.pk).ticket_seq == 0


@pytest.mark.django_db
def test_a_quick_add_into_another_boards_column_adds_nothing(client, alice, board, other_board):
    client.force_login(alice)

    response = client.post(
        f"/b/{board.pk}/tickets/new/", {"title": "Sneaky", "kind": "story", "column": other_board.columns.first().pk},
        **HTMX,
    )

    assert response.status_code == 422
    assert "That column is not on this board" in response.headers["HX-Trigger"]
    assert not Ticket.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("body, message", [
    ("", "This field is required."),
    ("   \n  ", "This field is required."),
    ("x" * 20_001, "Ensure this value has at most 20000 characters"),
])
def test_an_invalid_comment_is_422_with_the_error_next_to_the_field(client, alice, board, ticket, htmx, body, message):
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/comments/", {"body": body}, **(HTMX if htmx else {}))

    assert response.status_code == 422
    assert message in field_error(response.content, "body")
    assert not Comment.objects.exists()
    assert ticket_state(ticket.pk) == before


# --- settings ------------------------------------------------------------------------

def _settings(client, board, action, item=None, **data):
    url = f"/b/{board.pk}/settings/{action}/" + (f"{item}/" if item is not None else "")
    return client.post(url, data)


@pytest.mark.django_db
def test_inviting_an_unknown_username_is_422_with_a_message(client, alice, board):
    client.force_login(alice)
    members_before = Membership.objects.filter(board=board).count()

    response = _settings(client, board, "invite", identifier="nobody", role="member")

    assert response.status_code == 422
    assert "No account with the username “nobody”." in field_error(response.content, "identifier")
    assert Membership.objects.filter(board=board).count() == members_before
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_inviting_someone_who_is_already_a_member_is_422(client, alice, board):
    client.force_login(alice)

    response = _settings(client, board, "invite", identifier="BOB@example.org", role="owner")

    assert response.status_code == 422
    assert "“BOB@example.org” is already on this board." in field_error(response.content, "identifier")
    assert Membership.objects.get(board=board, user__username="bob").role == Membership.Role.MEMBER
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_inviting_with_an_unknown_role_is_422(client, alice, charlie, board):
    client.force_login(alice)

    response = _settings(client, board, "invite", identifier="charlie", role="admin")

    assert response.status_code == 422
    assert "Select a valid choice" in field_error(response.content, "role")
    assert not Membership.objects.filter(board=board, user=charlie).exists()
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_the_old_member_add_action_is_gone(client, alice, charlie, board):
    client.force_login(alice)

    response = _settings(client, board, "member_add", identifier="charlie", role="member")

    assert response.status_code == 404
    assert not Membership.objects.filter(board=board, user=charlie).exists()


@pytest.mark.django_db
def test_removing_the_last_owner_is_422_and_they_stay_owner(client, alice, board):
    client.force_login(alice)
    owner = Membership.objects.get(board=board, user=alice)

    response = _settings(client, board, "member_remove", owner.pk)

    assert response.status_code == 422
    assert action_error(response.content) == "The last owner cannot be removed."
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER


@pytest.mark.django_db
def test_demoting_the_last_owner_is_422_and_they_stay_owner(client, alice, board):
    client.force_login(alice)
    owner = Membership.objects.get(board=board, user=alice)

    response = _settings(client, board, "member_role", owner.pk, role="viewer")

    assert response.status_code == 422
    assert "A board needs at least one owner" in action_error(response.content)
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER


@pytest.mark.django_db
def test_changing_a_role_to_garbage_is_422(client, alice, bob, board):
    client.force_login(alice)
    membership = Membership.objects.get(board=board, user=bob)

    response = _settings(client, board, "member_role", membership.pk, role="god")

    assert response.status_code == 422
    assert "Choose owner, member or viewer." in action_error(response.content)
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.MEMBER


@pytest.mark.django_db
def test_deleting_a_column_with_cards_without_a_target_is_422_and_the_column_stays(client, alice, board, columns, ticket):
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = _settings(client, board, "column_delete", columns[0].pk)

    assert response.status_code == 422
    assert action_error(response.content) == "This column has cards: choose where they go."
    assert Column.objects.filter(pk=columns[0].pk).exists()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["self", "foreign", "garbage"])
def test_deleting_a_column_into_itself_another_board_or_garbage_is_4xx_and_the_column_stays(
    client, alice, board, columns, ticket, other_board, target
):
    move_to = {"self": columns[0].pk, "foreign": other_board.columns.first().pk, "garbage": "abc"}[target]
    client.force_login(alice)
    before = ticket_state(ticket.pk)

    response = _settings(client, board, "column_delete", columns[0].pk, move_to=move_to)

    assert response.status_code == 422
    assert action_error(response.content)
    assert Column.objects.filter(pk=columns[0].pk).exists()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
def test_deleting_the_last_column_is_422(client, alice, board, columns):
    for col in columns[1:]:
        services.column_delete(board=board, column_id=col.pk, actor=alice)
    client.force_login(alice)

    response = _settings(client, board, "column_delete", columns[0].pk)

    assert response.status_code == 422
    assert action_error(response.content) == "A board keeps at least one column."
    assert board.columns.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("wip", ["abc", "0", "-3", "1.5", "10001"])
def test_a_bad_wip_limit_on_a_new_column_is_422_next_to_the_field(client, alice, board, wip):
    client.force_login(alice)
    count = board.columns.count()

    response = _settings(client, board, "column_add", name="Eval", wip_limit=wip, category="in_progress")

    assert response.status_code == 422
    assert field_error(response.content, "wip_limit")
    assert board.columns.count() == count


@pytest.mark.django_db
def test_a_bad_wip_limit_on_an_existing_column_is_422_and_the_column_is_unchanged(client, alice, board, columns):
    client.force_login(alice)
    before = Column.objects.filter(pk=columns[1].pk).values().get()

    response = _settings(client, board, "column_update", columns[1].pk, name="Renamed", wip_limit="abc",
                         category="in_progress")

    assert response.status_code == 422
    assert "Enter a whole number." in action_error(response.content)
    assert Column.objects.filter(pk=columns[1].pk).values().get() == before


@pytest.mark.django_db
def test_moving_the_first_column_further_left_is_422(client, alice, board, columns):
    client.force_login(alice)

    response = _settings(client, board, "column_left", columns[0].pk)

    assert response.status_code == 422
    assert "already at that end" in action_error(response.content)
    assert list(board.columns.order_by("position")) == columns


@pytest.mark.django_db
@pytest.mark.parametrize("action, data, field, message", [
    ("board", {"name": "", "key": "MLK", "wip_mode": "warn"}, "name", "This field is required."),
    ("board", {"name": "B", "key": "ML-K", "wip_mode": "warn"}, "key", "Use 1 to 8 letters or digits"),
    ("board", {"name": "B", "key": "MLK", "wip_mode": "never"}, "wip_mode", "Select a valid choice."),
    ("label_add", {"name": "nlp", "color": "red"}, "color", "Use a colour like #1f7a8c."),
    ("label_add", {"name": "", "color": "#112233"}, "name", "This field is required."),
    ("epic_add", {"name": "Eval", "color": "#12345"}, "color", "Use a colour like #1f7a8c."),
    ("sprint_add", {"name": "S1", "start": "2026-02-10", "end": "2026-02-01"}, "end", "The sprint ends before it starts."),
    ("sprint_add", {"name": "S1", "start": "yesterday", "end": "2026-02-01"}, "start", "Enter a valid date."),
    ("column_add", {"name": "", "category": "done"}, "name", "This field is required."),
    ("column_add", {"name": "X", "category": "archived"}, "category", "Select a valid choice."),
])
def test_invalid_settings_forms_are_422_with_the_error_next_to_the_field(client, alice, board, action, data, field, message):
    client.force_login(alice)
    board_before = Board.objects.filter(pk=board.pk).values().get()

    response = _settings(client, board, action, **data)

    assert response.status_code == 422
    assert message in field_error(response.content, field)
    assert Board.objects.filter(pk=board.pk).values().get() == board_before


@pytest.mark.django_db
def test_a_duplicate_label_is_422(client, alice, board):
    services.label_create(board=board, name="nlp")
    client.force_login(alice)

    response = _settings(client, board, "label_add", name="NLP", color="#112233")

    assert response.status_code == 422
    assert "exists already" in field_error(response.content, "name")
    assert board.labels.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["member_role", "member_remove", "column_update", "column_left", "column_right",
                                    "column_delete", "label_delete"])
def test_a_settings_action_on_an_unknown_item_is_404(client, alice, board, action):
    client.force_login(alice)
    before = Board.objects.get(pk=board.pk).version

    response = _settings(client, board, action, 2**70, role="viewer", name="X", category="done")

    assert response.status_code == 404
    assert Board.objects.get(pk=board.pk).version == before


@pytest.mark.django_db
def test_an_unknown_settings_action_is_404(client, alice, board):
    client.force_login(alice)

    assert _settings(client, board, "self_destruct").status_code == 404


@pytest.mark.django_db
def test_a_new_board_with_a_bad_ticket_prefix_is_422(client, charlie):
    client.force_login(charlie)

    response = client.post("/", {"name": "Mine", "template": "simple", "key": "A B"})

    assert response.status_code == 422
    assert "Use 1 to 8 letters or digits" in field_error(response.content, "key")
    assert not Board.objects.filter(name="Mine").exists()


# --- sign-up -------------------------------------------------------------------------

@pytest.mark.django_db
def test_signup_with_mismatched_passwords_is_422_and_creates_no_account(client):
    response = client.post("/accounts/signup/", {
        "username": "newbie", "email": "newbie@example.org",
        "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-2",
    })

    assert response.status_code == 422
    assert "password fields didn’t match" in field_error(response.content, "password2")
    assert not User.objects.filter(username="newbie").exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signup_with_a_taken_email_is_422(client, alice):
    response = client.post("/accounts/signup/", {
        "username": "alice2", "email": "ALICE@example.org",
        "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
    })

    assert response.status_code == 422
    assert "An account with this email exists already." in field_error(response.content, "email")
    assert not User.objects.filter(username="alice2").exists()


# --- the poll and reads --------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("v", ["abc", "", "1.5", "0x10"])
def test_a_poll_with_a_non_numeric_version_is_400(client, alice, board, v):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/poll/", {"v": v})

    assert response.status_code == 400
    assert response.content.decode() == "The board version must be a number."


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    {"v": str(10**30)},
    {"v": str(-10**30)},
    {"v": "0", "layout": "abc"},
    {"v": "0", "epic": "abc", "kind": "saga", "blocked": "maybe", "lanes": "planet"},
    {"v": "0", "epic": str(10**25)},
])
def test_a_poll_with_out_of_range_or_garbage_parameters_does_not_crash(client, alice, board, ticket, query):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/poll/", query)

    assert response.status_code in (200, 204)


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    "q=" + "x" * 5000,
    "q=MLK-99999999999999999999",
    "epic=abc&kind=saga&blocked=maybe&lanes=planet&assignee=" + "y" * 300,
    "epic=" + "9" * 30,
    "label=%00",
])
def test_the_board_page_with_garbage_filters_does_not_crash(client, alice, board, ticket, query):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?{query}")

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("query, status", [
    ("after=" + "~" * 100, 400),  # not a rank key (base-62)
    ("lanes=epic&lane=none&epic=abc", 200),
    ("lanes=assignee&lane=abc", 400),
    ("lanes=assignee&lane=" + "9" * 20, 400),
    ("lanes=epic&lane=%C2%B2", 400),
])
def test_the_column_page_with_garbage_parameters_is_not_a_server_error(
    client, alice, board, columns, ticket, query, status
):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/columns/{columns[0].pk}/more/?{query}", **HTMX)

    assert response.status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize("data, status", [
    ({}, 400),
    ({"version": "x", "column": "y"}, 400),
    ({"version": 1, "column": 2**70}, 400),
    ({"version": 1, "column": "{c}", "position": "sideways"}, 400),
    ({"version": 1, "column": 999_999_999}, 422),
    ({"version": 7, "column": "{c}"}, 409),
])
def test_the_api_move_answers_bad_input_with_4xx_and_changes_nothing(client, alice, board, columns, ticket, data, status):
    client.force_login(alice)
    data = {k: (int(v.format(c=columns[1].pk)) if isinstance(v, str) and "{" in v else v) for k, v in data.items()}
    before = ticket_state(ticket.pk)

    response = client.post(f"/api/boards/{board.pk}/tickets/{ticket.pk}/move/", data, content_type="application/json")

    assert response.status_code == status
    assert response.json()
    assert ticket_state(ticket.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "/b/{huge}/", "/b/{huge}/poll/?v=0", "/b/{huge}/settings/", "/b/{board}/t/{huge}/",
    "/b/{board}/columns/{huge}/more/", "/api/boards/{huge}/", "/api/boards/{huge}/tickets/",
])
def test_ids_beyond_the_databases_range_are_404_not_a_crash(client, alice, board, url):
    client.force_login(alice)

    response = client.get(url.format(huge=10**25, board=board.pk))

    assert response.status_code == 404


@pytest.mark.django_db
def test_a_move_on_a_board_id_beyond_the_databases_range_is_404(client, alice, board, columns, ticket):
    client.force_login(alice)

    responses = [
        client.post(f"/b/{10**25}/move/", {"ticket": ticket.pk, "version": 1, "column": columns[1].pk}, **HTMX),
        client.post(f"/api/boards/{10**25}/tickets/{ticket.pk}/move/", {"version": 1, "column": columns[1].pk},
                    content_type="application/json"),
        client.post(f"/api/boards/{board.pk}/tickets/{10**25}/move/", {"version": 1, "column": columns[1].pk},
                    content_type="application/json"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 422]
    assert Ticket.objects.get(pk=ticket.pk).column_id == columns[0].pk


@pytest.mark.django_db
def test_a_wrong_password_answers_422_with_the_message_on_the_form(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "not-the-password"})

    assert response.status_code == 422
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session
