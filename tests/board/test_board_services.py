"""Board services: templates, columns, members, labels, epics, sprints, and
which writes bump Board.version and Board.layout_version."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from board import services
from board.models import Board, Column, Epic, Label, Membership, Sprint, Ticket, TicketEvent
from tests.factories import UserFactory, make_board, make_ticket

pytestmark = pytest.mark.django_db

TODO, IN_PROGRESS, DONE = Column.Category.TODO, Column.Category.IN_PROGRESS, Column.Category.DONE


def layout(board):
    """The board's columns left to right: (name, category, wip_limit)."""
    return list(Column.objects.filter(board=board).order_by("position", "id").values_list("name", "category", "wip_limit"))


def column_names(board):
    return [name for name, _, _ in layout(board)]


def titles(column):
    return list(Ticket.objects.filter(column=column).order_by("rank").values_list("title", flat=True))


def versions(board):
    return tuple(Board.objects.values_list("version", "layout_version").get(pk=board.pk))


def snapshot(board):
    return (
        versions(board),
        layout(board),
        sorted(Ticket.objects.filter(board=board).values_list("id", "column_id", "rank")),
        list(Membership.objects.filter(board=board).order_by("id").values_list("user_id", "role")),
    )


# --- creating boards ----------------------------------------------------------

def test_the_ml_sprint_template_gives_its_five_columns_in_order(alice):
    board = services.board_create(user=alice, name="Retrieval team", template=Board.Template.ML_SPRINT)
    # Backlog → Whiteboarding → Implementation → Code review → Done
    assert layout(board) == [
        ("Backlog", TODO, None),
        ("Whiteboarding", IN_PROGRESS, 3),
        ("Implementation", IN_PROGRESS, 4),
        ("Code review", IN_PROGRESS, 3),
        ("Done", DONE, None),
    ]
    positions = list(board.columns.order_by("position").values_list("position", flat=True))
    assert positions == sorted(set(positions))


def test_the_simple_template_gives_three_columns(alice):
    board = services.board_create(user=alice, name="Side project", template=Board.Template.SIMPLE)
    # To do → Doing → Done
    assert layout(board) == [("To do", TODO, None), ("Doing", IN_PROGRESS, None), ("Done", DONE, None)]


def test_the_creator_owns_a_new_board(alice):
    board = services.board_create(user=alice, name="  Vision  ", key="cv")
    assert (board.name, board.key, board.created_by, board.wip_mode) == ("Vision", "CV", alice, Board.WipMode.WARN)
    assert list(board.memberships.values_list("user__username", "role")) == [("alice", Membership.Role.OWNER)]


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "  "}, "name"),
    ({"name": "X", "template": "scrumban"}, "template"),
    ({"name": "X", "key": "ML-K"}, "key"),
    ({"name": "X", "key": "TOOLONGKEY"}, "key"),
])
def test_a_board_without_a_name_or_with_a_bad_template_or_key_is_refused(alice, kwargs, field):
    with pytest.raises(ValidationError) as error:
        services.board_create(user=alice, **kwargs)
    assert field in error.value.message_dict
    assert not Board.objects.exists()


# --- columns --------------------------------------------------------------------

def test_a_new_column_goes_to_the_right_end(board):
    column = services.column_create(board=board, name="Deployed", wip_limit="5", category=DONE)
    assert layout(board)[-1] == ("Deployed", DONE, 5)
    assert column_names(board) == ["Backlog", "Whiteboarding", "Implementation", "Code review", "Done", "Deployed"]
    assert column.board_id == board.pk


@pytest.mark.parametrize("kwargs, field", [
    ({"name": " "}, "name"),
    ({"name": "QA", "wip_limit": "three"}, "wip_limit"),
    ({"name": "QA", "wip_limit": 0}, "wip_limit"),
    ({"name": "QA", "category": "blocked"}, "category"),
])
def test_a_column_with_bad_fields_is_refused(board, kwargs, field):
    before = snapshot(board)
    with pytest.raises(ValidationError) as error:
        services.column_create(board=board, **kwargs)
    assert field in error.value.message_dict
    assert snapshot(board) == before


def test_updating_a_column_changes_its_name_limit_and_category(board, columns):
    whiteboarding = columns[1]
    services.column_update(board=board, column_id=whiteboarding.pk, name="Design", wip_limit="", category=TODO)
    assert layout(board)[1] == ("Design", TODO, None)


def test_a_column_of_another_board_cannot_be_updated(board, charlie):
    other = make_board(charlie, name="Other")
    foreign = other.columns.first()
    with pytest.raises(Column.DoesNotExist):
        services.column_update(board=board, column_id=foreign.pk, name="Mine now", wip_limit=None, category=TODO)
    foreign.refresh_from_db()
    assert foreign.name != "Mine now"


def test_shifting_a_column_left_and_right(board, columns):
    implementation = columns[2]
    # Backlog Whiteboarding Implementation Code review Done
    # → Implementation left → Backlog Implementation Whiteboarding Code review Done
    services.column_shift(board=board, column_id=implementation.pk, offset=-1)
    assert column_names(board) == ["Backlog", "Implementation", "Whiteboarding", "Code review", "Done"]
    # → Implementation right twice → Backlog Whiteboarding Code review Implementation Done
    services.column_shift(board=board, column_id=implementation.pk, offset=+1)
    services.column_shift(board=board, column_id=implementation.pk, offset=+1)
    assert column_names(board) == ["Backlog", "Whiteboarding", "Code review", "Implementation", "Done"]


def test_shifting_past_either_end_is_refused(board, columns):
    backlog, done = columns[0], columns[-1]
    before = snapshot(board)
    with pytest.raises(ValidationError):
        services.column_shift(board=board, column_id=backlog.pk, offset=-1)
    with pytest.raises(ValidationError):
        services.column_shift(board=board, column_id=done.pk, offset=+1)
    assert snapshot(board) == before


def test_deleting_an_empty_column(board, columns):
    services.column_delete(board=board, column_id=columns[3].pk)
    assert column_names(board) == ["Backlog", "Whiteboarding", "Implementation", "Done"]


def test_deleting_a_column_with_cards_needs_a_target(board, alice, columns):
    code_review = columns[3]
    make_ticket(board, alice, title="A", column=code_review)
    before = snapshot(board)
    with pytest.raises(ValidationError) as error:
        services.column_delete(board=board, column_id=code_review.pk)
    assert "move_to" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.column_delete(board=board, column_id=code_review.pk, move_to_id=code_review.pk)
    assert snapshot(board) == before


def test_the_target_of_a_column_deletion_must_be_on_the_board(board, alice, charlie, columns):
    code_review = columns[3]
    make_ticket(board, alice, title="A", column=code_review)
    foreign = make_board(charlie, name="Other").columns.first()
    before = snapshot(board)
    with pytest.raises(ValidationError):
        services.column_delete(board=board, column_id=code_review.pk, move_to_id=foreign.pk)
    assert snapshot(board) == before


def test_deleting_a_column_appends_its_cards_in_order_to_the_target(board, alice, columns):
    implementation, code_review, done = columns[2], columns[3], columns[4]
    make_ticket(board, alice, title="X", column=done)
    make_ticket(board, alice, title="Y", column=done)
    for t in "ABC":
        make_ticket(board, alice, title=t, column=code_review)
    # order them C A B within Code review first
    c = Ticket.objects.get(title="C")
    services.ticket_move(board=board, actor=alice, ticket_id=c.pk, expected_version=c.version,
                         to_column_id=code_review.pk, position="top")
    # Code review: C A B      Done: X Y
    # → delete Code review, its cards to Done → Done: X Y C A B
    services.column_delete(board=board, column_id=code_review.pk, actor=alice, move_to_id=done.pk)
    assert titles(done) == ["X", "Y", "C", "A", "B"]
    assert column_names(board) == ["Backlog", "Whiteboarding", "Implementation", "Done"]
    moved = Ticket.objects.filter(title__in="CAB")
    assert all(t.done_at is not None and t.column_id == done.pk for t in moved)
    events = TicketEvent.objects.filter(ticket__in=moved, field="column").order_by("-id")[:3]
    assert {(e.old, e.new, e.old_display, e.new_display, e.actor) for e in events} == {
        (code_review.pk, done.pk, "Code review", "Done", alice)
    }
    assert titles(implementation) == []


def test_the_last_column_cannot_be_deleted(alice):
    board = make_board(alice, template=Board.Template.SIMPLE)
    to_do, doing, done = board.columns.order_by("position")
    services.column_delete(board=board, column_id=doing.pk)
    services.column_delete(board=board, column_id=to_do.pk)
    with pytest.raises(ValidationError):
        services.column_delete(board=board, column_id=done.pk)
    assert column_names(board) == ["Done"]


# --- members ----------------------------------------------------------------------

# Invitations (how people join): tests/board/test_invitations.py.

def test_an_accepted_invitation_by_username_ignores_case(alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="  CharLie ", role="member", invited_by=alice)
    membership = services.invitation_accept(invitation_id=invitation.pk, user=charlie)
    assert (membership.user, membership.role, membership.board) == (charlie, Membership.Role.MEMBER, board)


def test_an_accepted_invitation_by_email_ignores_case(alice, board):
    dana = UserFactory(username="dana", email="dana.ml@example.org")
    invitation = services.invitation_create(board=board, identifier="Dana.ML@Example.ORG", role="viewer",
                                            invited_by=alice)
    membership = services.invitation_accept(invitation_id=invitation.pk, user=dana)
    assert (membership.user, membership.role) == (dana, Membership.Role.VIEWER)


def test_inviting_a_member_is_refused(alice, board, bob):
    before = snapshot(board)
    with pytest.raises(ValidationError) as error:
        services.invitation_create(board=board, identifier="BOB", role=Membership.Role.OWNER, invited_by=alice)
    assert "already" in " ".join(error.value.message_dict["identifier"])
    assert snapshot(board) == before


@pytest.mark.parametrize("identifier, role", [("nobody", "member"), ("", "member"), ("charlie", "admin")])
def test_inviting_an_unknown_person_or_role_is_refused(alice, board, charlie, identifier, role):
    before = snapshot(board)
    with pytest.raises(ValidationError):
        services.invitation_create(board=board, identifier=identifier, role=role, invited_by=alice)
    assert snapshot(board) == before


def test_changing_a_members_role(board, bob):
    membership = Membership.objects.get(board=board, user=bob)
    services.membership_change_role(board=board, membership_id=membership.pk, role=Membership.Role.OWNER)
    membership.refresh_from_db()
    assert membership.role == Membership.Role.OWNER


def test_the_last_owner_cannot_be_demoted_or_removed(board, alice):
    owner = Membership.objects.get(board=board, user=alice)
    before = snapshot(board)
    with pytest.raises(ValidationError):
        services.membership_change_role(board=board, membership_id=owner.pk, role=Membership.Role.MEMBER)
    with pytest.raises(ValidationError):
        services.membership_remove(board=board, membership_id=owner.pk)
    assert snapshot(board) == before


def test_an_owner_can_step_down_once_there_is_another_owner(board, alice, bob):
    owner = Membership.objects.get(board=board, user=alice)
    bobs = Membership.objects.get(board=board, user=bob)
    services.membership_change_role(board=board, membership_id=bobs.pk, role=Membership.Role.OWNER)
    services.membership_change_role(board=board, membership_id=owner.pk, role=Membership.Role.MEMBER)
    # now bob is the last owner
    with pytest.raises(ValidationError):
        services.membership_remove(board=board, membership_id=bobs.pk)
    services.membership_remove(board=board, membership_id=owner.pk)
    assert list(board.memberships.filter(role=Membership.Role.OWNER).values_list("user__username", flat=True)) == ["bob"]
    assert not board.memberships.filter(user=alice).exists()


def test_a_membership_of_another_board_cannot_be_changed(board, charlie):
    other = make_board(charlie, name="Other")
    foreign = other.memberships.get(user=charlie)
    with pytest.raises(Membership.DoesNotExist):
        services.membership_change_role(board=board, membership_id=foreign.pk, role=Membership.Role.VIEWER)
    with pytest.raises(Membership.DoesNotExist):
        services.membership_remove(board=board, membership_id=foreign.pk)
    foreign.refresh_from_db()
    assert foreign.role == Membership.Role.OWNER


# --- labels, epics, sprints ----------------------------------------------------------

def test_label_names_are_unique_per_board_ignoring_case(board, charlie):
    services.label_create(board=board, name="GPU", color="#1F7A8C")
    with pytest.raises(ValidationError):
        services.label_create(board=board, name=" gpu ")
    other = make_board(charlie, name="Other")
    services.label_create(board=other, name="gpu")  # another board may have its own
    assert list(Label.objects.filter(board=board).values_list("name", "color")) == [("GPU", "#1f7a8c")]
    assert Label.objects.filter(name__iexact="gpu").count() == 2


def test_a_label_with_a_bad_colour_is_refused(board):
    with pytest.raises(ValidationError):
        services.label_create(board=board, name="data", color="teal")
    assert not Label.objects.exists()


def test_epic_names_are_unique_per_board_ignoring_case(board, charlie):
    services.epic_create(board=board, name="Distillation")
    with pytest.raises(ValidationError):
        services.epic_create(board=board, name="DISTILLATION")
    services.epic_create(board=make_board(charlie, name="Other"), name="Distillation")
    assert Epic.objects.filter(board=board).count() == 1
    assert Epic.objects.count() == 2


def test_a_sprint_that_ends_before_it_starts_is_refused(board):
    before = snapshot(board)
    with pytest.raises(ValidationError) as error:
        services.sprint_create(board=board, name="Sprint 0", start=date(2026, 11, 13), end=date(2026, 11, 2))
    assert "end" in error.value.message_dict
    assert snapshot(board) == before
    assert not Sprint.objects.exists()


def test_a_one_day_sprint_is_fine(board):
    sprint = services.sprint_create(board=board, name="Hack day", start=date(2026, 11, 20), end=date(2026, 11, 20))
    assert (sprint.start, sprint.end, sprint.state) == (date(2026, 11, 20), date(2026, 11, 20), Sprint.State.PLANNED)


# --- versions -----------------------------------------------------------------------

@pytest.fixture
def dana(db):
    return UserFactory(username="dana", email="dana@example.org")


LAYOUT_CHANGES = {
    "board settings": lambda board, cols, people: services.board_update(
        board=board, name="Renamed", wip_mode=Board.WipMode.HARD, key="REN"),
    "column create": lambda board, cols, people: services.column_create(board=board, name="QA"),
    "column update": lambda board, cols, people: services.column_update(
        board=board, column_id=cols[1].pk, name="Design", wip_limit=2, category=IN_PROGRESS),
    "column shift": lambda board, cols, people: services.column_shift(board=board, column_id=cols[1].pk, offset=1),
    "column delete": lambda board, cols, people: services.column_delete(board=board, column_id=cols[3].pk),
    "member grant": lambda board, cols, people: services.membership_grant(
        board=board, user=people["dana"], role="member"),
    "member role": lambda board, cols, people: services.membership_change_role(
        board=board, membership_id=board.memberships.get(user=people["bob"]).pk, role="viewer"),
    "member remove": lambda board, cols, people: services.membership_remove(
        board=board, membership_id=board.memberships.get(user=people["bob"]).pk),
    "label create": lambda board, cols, people: services.label_create(board=board, name="gpu"),
    "epic create": lambda board, cols, people: services.epic_create(board=board, name="Retrieval"),
    "sprint create": lambda board, cols, people: services.sprint_create(
        board=board, name="S1", start=date(2026, 11, 2), end=date(2026, 11, 13)),
}


@pytest.mark.parametrize("change", LAYOUT_CHANGES)
def test_a_layout_change_bumps_layout_version(board, columns, alice, bob, dana, change):
    version, layout_version = versions(board)
    LAYOUT_CHANGES[change](board, columns, {"alice": alice, "bob": bob, "dana": dana})
    assert versions(board) == (version + 1, layout_version + 1)


def test_label_delete_bumps_layout_version(board):
    label = services.label_create(board=board, name="gpu")
    version, layout_version = versions(board)
    services.label_delete(board=board, label_id=label.pk)
    assert versions(board) == (version + 1, layout_version + 1)


def test_card_changes_bump_only_version_by_one_per_event(board, alice, bob, columns):
    backlog, whiteboarding = columns[:2]
    version, layout_version = versions(board)

    def events_since(v):
        return TicketEvent.objects.filter(board=board, board_version__gt=v).count()

    ticket = make_ticket(board, alice, title="Sweep", column=backlog)                       # create
    assert versions(board) == (version + events_since(version), layout_version)

    v = versions(board)[0]
    services.ticket_update(ticket_id=ticket.pk, board=board, actor=bob, expected_version=ticket.version,
                           data=services.TicketInput(title="Sweep LR", points=3))           # edit: 2 fields
    assert versions(board) == (v + 2, layout_version)

    ticket.refresh_from_db()
    services.ticket_move(board=board, actor=bob, ticket_id=ticket.pk, expected_version=ticket.version,
                         to_column_id=whiteboarding.pk)                                    # move
    assert versions(board) == (v + 3, layout_version)

    services.comment_add(board=board, ticket_id=ticket.pk, author=alice, body="Nice curve")  # comment
    assert versions(board) == (v + 4, layout_version)
    ticket.refresh_from_db()
    assert ticket.board_version == v + 4  # the poll picks up the commented card


def test_moving_cards_by_deleting_their_column_bumps_both(board, alice, columns):
    make_ticket(board, alice, title="A", column=columns[3])
    version, layout_version = versions(board)
    services.column_delete(board=board, column_id=columns[3].pk, move_to_id=columns[4].pk)
    new_version, new_layout_version = versions(board)
    assert new_layout_version == layout_version + 1
    assert new_version > version
    moved = Ticket.objects.get(title="A")
    assert version < moved.board_version <= new_version  # clients polling see the moved card
