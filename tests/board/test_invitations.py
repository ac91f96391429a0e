"""Joining a board is an invitation the person accepts.

Personas (tests/conftest.py): alice owns the board, bob is a member, vera a
viewer, charlie an outsider. An owner invites by username or by email address
(an "@" means an email, and matches only emails); nobody is on a board before
they accept; only the invitee can answer; until then the owners see only what
they typed.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from board import services
from board.forms import AdminUserChangeForm, AdminUserCreationForm
from board.models import Board, Invitation, Membership
from tests.factories import UserFactory, make_board

User = get_user_model()

REAL_EMAIL = "newhire@corp.example"


def _invite(client, board, identifier, role="member"):
    return client.post(f"/b/{board.pk}/settings/invite/", {"identifier": identifier, "role": role})


def _accept(client, invitation_id):
    return client.post(f"/invitations/{invitation_id}/accept/")


def _decline(client, invitation_id):
    return client.post(f"/invitations/{invitation_id}/decline/")


def _field_error(content: bytes, field: str) -> str:
    match = re.search(
        rf'<div class="field has-error field-{field}">.*?<div class="field-error" role="alert">(.*?)</div>',
        content.decode(), re.S,
    )
    assert match, f"no error shown next to the field {field!r}"
    return match.group(1)


def _is_member(board, user) -> bool:
    return Membership.objects.filter(board=board, user=user).exists()


@pytest.fixture
def impostor(db):
    """An account made before usernames had to be without "@" (sign-up refuses it now),
    older than the real owner of the address."""
    return UserFactory(username=REAL_EMAIL, email="impostor@elsewhere.example", first_name="Ivan", last_name="Impostor")


@pytest.fixture
def newhire(impostor):
    return UserFactory(username="quill", email=REAL_EMAIL, first_name="Nora", last_name="Newhire")


# --- the attack -------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_invitation_to_an_email_reaches_the_owner_of_that_email_not_an_account_named_after_it(
    client, alice, board, impostor, newhire
):
    assert impostor.pk < newhire.pk  # the old code took the oldest account matching username OR email
    client.force_login(alice)

    response = _invite(client, board, REAL_EMAIL)

    assert response.status_code == 302
    invitation = Invitation.objects.get(board=board)
    assert invitation.user == newhire
    assert not Invitation.objects.filter(user=impostor).exists()
    # The impostor is not asked, cannot answer, and is not on the board.
    client.force_login(impostor)
    assert board.name not in client.get("/").content.decode()
    assert _accept(client, invitation.pk).status_code == 404
    assert not _is_member(board, impostor)
    # The owner of the address is asked, and joins when they accept.
    client.force_login(newhire)
    assert board.name in client.get("/").content.decode()
    assert _accept(client, invitation.pk).status_code == 302
    assert _is_member(board, newhire)
    assert not _is_member(board, impostor)


@pytest.mark.django_db
def test_sign_up_refuses_a_username_with_an_at_sign(client, settings):
    settings.ALLOW_SIGNUP = True

    response = client.post("/accounts/signup/", {
        "username": REAL_EMAIL, "email": "impostor@elsewhere.example",
        "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
    })

    assert response.status_code == 422
    assert "A username cannot contain “@”" in _field_error(response.content, "username")
    assert not User.objects.filter(username=REAL_EMAIL).exists()


@pytest.mark.django_db
def test_the_admin_refuses_a_new_or_changed_username_with_an_at_sign_but_keeps_an_old_one(impostor, charlie):
    add = AdminUserCreationForm({"username": "x@y.example", "usable_password": "false"})
    assert not add.is_valid()
    assert "A username cannot contain “@”" in " ".join(add.errors["username"])

    def change(user, username):
        return AdminUserChangeForm(
            {"username": username, "email": user.email, "date_joined": "2026-01-01 00:00:00"}, instance=user
        )

    renamed = change(charlie, "charlie@example.org")
    assert not renamed.is_valid()
    assert "username" in renamed.errors
    unchanged = change(impostor, impostor.username)  # an operator can still deactivate a legacy account
    assert "username" not in unchanged.errors


@pytest.mark.django_db
def test_the_admin_user_pages_use_the_forms_that_refuse_an_at_sign(admin_client, impostor):
    assert admin_client.get(f"/admin/auth/user/{impostor.pk}/change/").status_code == 200

    response = admin_client.post("/admin/auth/user/add/", {"username": "x@y.example", "usable_password": "false"})

    assert response.status_code == 200
    assert "A username cannot contain “@”" in response.content.decode()
    assert not User.objects.filter(username="x@y.example").exists()


# --- matching ------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("identifier, expected", [
    ("  CharLie ", "charlie"),  # a username, any case
    ("Dana.ML@Example.ORG", "dana"),  # an email, any case
    ("dana.ml@example.org", "dana"),
])
def test_an_owner_invites_by_username_or_by_email_ignoring_case(alice, board, charlie, identifier, expected):
    UserFactory(username="dana", email="dana.ml@example.org")

    invitation = services.invitation_create(board=board, identifier=identifier, role="viewer", invited_by=alice)

    assert (invitation.user.username, invitation.role, invitation.identifier) == (expected, "viewer", identifier.strip())


@pytest.mark.django_db
def test_a_username_never_matches_an_email_and_an_email_never_matches_a_username(alice, board):
    UserFactory(username="frank@example.org", email="frank.real@example.org")  # a legacy username
    UserFactory(username="henry", email="hal@example.org")

    with pytest.raises(ValidationError) as by_email:
        services.invitation_create(board=board, identifier="frank@example.org", role="member", invited_by=alice)
    with pytest.raises(ValidationError) as by_username:
        services.invitation_create(board=board, identifier="hal", role="member", invited_by=alice)

    assert by_email.value.message_dict["identifier"] == [services.NO_ACCOUNT_FOR_EMAIL]
    assert by_username.value.message_dict["identifier"] == ["No account with the username “hal”."]
    assert not Invitation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("identifier, message", [
    ("nobody", "No account with the username “nobody”."),
    ("nobody@example.org", services.NO_ACCOUNT_FOR_EMAIL),
    ("BOB", "“BOB” is already on this board."),
    ("bob@example.org", "“bob@example.org” is already on this board."),
])
def test_inviting_an_unknown_account_or_a_member_is_422_with_a_message(client, alice, board, identifier, message):
    client.force_login(alice)
    version = Board.objects.get(pk=board.pk).version

    response = _invite(client, board, identifier)

    assert response.status_code == 422
    assert message in _field_error(response.content, "identifier")
    assert not Invitation.objects.exists()
    assert Membership.objects.get(board=board, user__username="bob").role == Membership.Role.MEMBER
    assert Board.objects.get(pk=board.pk).version == version


@pytest.mark.django_db
def test_inviting_someone_with_a_pending_invitation_again_is_422(client, alice, board, charlie):
    client.force_login(alice)
    _invite(client, board, "charlie")

    response = _invite(client, board, "CHARLIE", role="owner")

    assert response.status_code == 422
    assert "“CHARLIE” has been invited already" in _field_error(response.content, "identifier")
    assert list(Invitation.objects.values_list("user__username", "role")) == [("charlie", "member")]


@pytest.mark.django_db
def test_an_invitation_with_an_unknown_role_is_422(client, alice, board, charlie):
    client.force_login(alice)

    response = _invite(client, board, "charlie", role="admin")

    assert response.status_code == 422
    assert "Select a valid choice" in _field_error(response.content, "role")
    assert not Invitation.objects.exists()


# --- nobody joins without saying yes ---------------------------------------------------------

@pytest.mark.django_db
def test_nobody_becomes_a_member_without_accepting(client, alice, board, charlie):
    client.force_login(alice)
    _invite(client, board, "charlie", role="viewer")

    assert not _is_member(board, charlie)
    client.force_login(charlie)
    assert client.get(f"/b/{board.pk}/").status_code == 404
    index = client.get("/").content.decode()
    assert "ML board" in index and "Alice Owner invited you as viewer" in index
    assert f'action="/invitations/{Invitation.objects.get().pk}/accept/"' in index


@pytest.mark.django_db
def test_accepting_joins_the_board_with_the_invited_role_and_reloads_open_boards(client, alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="viewer", invited_by=alice)
    before = Board.objects.get(pk=board.pk)
    client.force_login(charlie)

    response = _accept(client, invitation.pk)

    assert response.status_code == 302
    assert response.url == f"/b/{board.pk}/"
    assert Membership.objects.get(board=board, user=charlie).role == Membership.Role.VIEWER
    assert not Invitation.objects.exists()
    after = Board.objects.get(pk=board.pk)
    assert (after.version, after.layout_version) == (before.version + 1, before.layout_version + 1)
    assert client.get(f"/b/{board.pk}/").status_code == 200
    assert client.post(f"/b/{board.pk}/tickets/new/", {"title": "x", "kind": "story"}).status_code == 403


@pytest.mark.django_db
def test_declining_removes_the_invitation_and_the_owner_can_invite_again(client, alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    client.force_login(charlie)

    response = _decline(client, invitation.pk)

    assert response.status_code == 302
    assert response.url == "/"
    assert not Invitation.objects.exists()
    assert not _is_member(board, charlie)
    assert board.name not in client.get("/").content.decode()
    services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)


@pytest.mark.django_db
def test_an_owner_cancels_an_invitation_and_accepting_it_then_is_404_with_a_message(client, alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/settings/invite_cancel/{invitation.pk}/")

    assert response.status_code == 302
    assert not Invitation.objects.exists()
    client.force_login(charlie)
    gone = _accept(client, invitation.pk)
    assert gone.status_code == 404
    assert "This invitation is not open any more" in gone.content.decode()
    assert not _is_member(board, charlie)


@pytest.mark.django_db
def test_accepting_an_invitation_to_a_deleted_board_is_404_with_a_message(client, alice, charlie):
    board = make_board(alice, name="Short-lived")
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    Board.objects.filter(pk=board.pk).delete()
    client.force_login(charlie)

    for answer in (_accept, _decline):
        response = answer(client, invitation.pk)
        assert response.status_code == 404
        assert "This invitation is not open any more" in response.content.decode()
    assert not Membership.objects.filter(user=charlie).exists()


@pytest.mark.django_db
def test_an_invitation_is_answered_once(client, alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    client.force_login(charlie)
    assert _accept(client, invitation.pk).status_code == 302

    assert _accept(client, invitation.pk).status_code == 404
    assert _decline(client, invitation.pk).status_code == 404
    assert _is_member(board, charlie)


@pytest.mark.django_db
@pytest.mark.parametrize("invitation_id", ["0", "99999999999999999999999"])
def test_answering_an_invitation_id_out_of_range_is_404(client, charlie, invitation_id):
    client.force_login(charlie)

    assert _accept(client, invitation_id).status_code == 404
    assert _decline(client, invitation_id).status_code == 404


# --- only the invitee answers, only owners invite ----------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob", "vera", "dave"])
def test_only_the_invitee_can_accept_or_decline_everyone_else_gets_404(client, alice, bob, vera, board, charlie, who):
    invitation = services.invitation_create(board=board, identifier="charlie", role="owner", invited_by=alice)
    someone = {"alice": alice, "bob": bob, "vera": vera}.get(who) or UserFactory(username=who)
    client.force_login(someone)

    assert _accept(client, invitation.pk).status_code == 404
    assert _decline(client, invitation.pk).status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk, user=charlie).exists()
    assert not _is_member(board, charlie)
    assert Membership.objects.get(board=board, user=bob).role == Membership.Role.MEMBER


@pytest.mark.django_db
def test_answering_needs_a_sign_in_and_a_csrf_token(alice, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    anonymous = Client()
    assert _accept(anonymous, invitation.pk).url.startswith("/accounts/login/")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(charlie)
    csrf_client.get("/")

    assert _accept(csrf_client, invitation.pk).status_code == 403
    assert not _is_member(board, charlie)


@pytest.mark.django_db
@pytest.mark.parametrize("who, status", [("bob", 403), ("vera", 403), ("charlie", 404)])
def test_a_non_owner_can_neither_invite_nor_see_the_settings_page(client, board, bob, vera, charlie, who, status):
    client.force_login({"bob": bob, "vera": vera, "charlie": charlie}[who])
    UserFactory(username="dave")

    assert _invite(client, board, "dave").status_code == status
    assert client.get(f"/b/{board.pk}/settings/").status_code == status
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_a_non_owner_cannot_cancel_an_invitation(client, alice, bob, board, charlie):
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    client.force_login(bob)

    assert client.post(f"/b/{board.pk}/settings/invite_cancel/{invitation.pk}/").status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.django_db
def test_the_service_refuses_an_inviter_who_is_not_an_owner(board, bob, charlie):
    with pytest.raises(PermissionDenied):
        services.invitation_create(board=board, identifier="charlie", role="member", invited_by=bob)
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_an_owner_cannot_cancel_another_boards_invitation_through_their_own(client, alice, board, charlie):
    other = make_board(charlie, name="Charlie's board")
    theirs = services.invitation_create(board=other, identifier="alice", role="member", invited_by=charlie)
    client.force_login(alice)

    assert client.post(f"/b/{board.pk}/settings/invite_cancel/{theirs.pk}/").status_code == 404
    assert Invitation.objects.filter(pk=theirs.pk).exists()


# --- what owners see -----------------------------------------------------------------

@pytest.mark.django_db
def test_the_settings_page_shows_what_the_owner_typed_for_pending_invitees_not_their_account(
    client, alice, board, charlie, newhire
):
    client.force_login(alice)
    assert _invite(client, board, "NewHire@Corp.Example").status_code == 302
    assert _invite(client, board, "charlie", role="viewer").status_code == 302

    page = client.get(f"/b/{board.pk}/settings/").content.decode()

    pending = page[page.index('id="invitations"'):page.index("Invite someone")]
    assert "NewHire@Corp.Example" in pending and "charlie" in pending
    # Neither invitee's account shows anywhere: no username, name or email of theirs.
    for secret in ("quill", "Nora", "Newhire", REAL_EMAIL, "charlie@example.org", "Charlie", "Outsider"):
        assert secret not in page, secret
    # Accepted members' emails are shown to the owner.
    assert "bob@example.org" in page


@pytest.mark.django_db
def test_the_invite_message_repeats_the_typed_email_not_the_account(client, alice, board, newhire):
    client.force_login(alice)

    response = _invite(client, board, REAL_EMAIL)
    page = client.get(response.url).content.decode()

    assert f"Invited “{REAL_EMAIL}” as member: they join when they accept." in page
    assert "quill" not in page and "Nora" not in page


@pytest.mark.django_db
def test_once_accepted_the_member_shows_with_their_name_and_email(client, alice, board, newhire):
    invitation = services.invitation_create(board=board, identifier=REAL_EMAIL, role="member", invited_by=alice)
    services.invitation_accept(invitation_id=invitation.pk, user=newhire)
    client.force_login(alice)

    page = client.get(f"/b/{board.pk}/settings/").content.decode()

    assert "Nora Newhire" in page and "@quill" in page and REAL_EMAIL in page
    assert 'id="invitations"' not in page


# --- versions ------------------------------------------------------------------------

@pytest.mark.django_db
def test_inviting_declining_and_cancelling_bump_the_version_but_not_the_layout(alice, board, charlie):
    def versions():
        b = Board.objects.get(pk=board.pk)
        return b.version, b.layout_version

    v, layout = versions()
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    assert versions() == (v + 1, layout)
    services.invitation_decline(invitation_id=invitation.pk, user=charlie)
    assert versions() == (v + 2, layout)
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    services.invitation_cancel(board=board, invitation_id=invitation.pk)
    assert versions() == (v + 4, layout)


@pytest.mark.django_db
def test_membership_grant_is_for_setup_code_and_replaces_a_pending_invitation(alice, board, charlie):
    services.invitation_create(board=board, identifier="charlie", role="viewer", invited_by=alice)

    membership = services.membership_grant(board=board, user=charlie, role="member")

    assert membership.role == Membership.Role.MEMBER
    assert not Invitation.objects.exists()
    with pytest.raises(ValidationError):
        services.membership_grant(board=board, user=charlie, role="owner")
