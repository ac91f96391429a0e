"""The card modal reads first and edits in place (views.ticket_field).

The title and description are shown once, as text, and turn into their
editor on demand; the side panel saves one field per POST through
services.ticket_patch, each change leaving its TicketEvent; comments and
history are one stream, newest first.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from board import services
from board.models import Ticket, TicketEvent
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(board, alice, columns):
    return make_ticket(board, alice, title="Tune the tokenizer", column=columns[0],
                       description="Try **byte-level** BPE on the chat corpus.")


def modal(client, board, ticket):
    return client.get(f"/b/{board.pk}/t/{ticket.number}/", **HTMX).content.decode()


def field_url(board, ticket, part):
    return f"/b/{board.pk}/t/{ticket.number}/fields/{part}/"


def save(client, board, ticket, part, data):
    return client.post(field_url(board, ticket, part), data, **HTMX)


def events(ticket, field):
    return list(TicketEvent.objects.filter(ticket_id=ticket.pk, field=field).order_by("board_version"))


# --- reading -----------------------------------------------------------------------------

def test_the_modal_shows_the_title_and_the_description_once_and_no_description_editor(client, bob, board, ticket):
    client.force_login(bob)

    html = modal(client, board, ticket)

    assert html.count("Tune the tokenizer") == 1
    assert html.count("byte-level") == 1
    assert "<strong>byte-level</strong>" in html
    assert "<textarea" not in html.split('id="comments"')[0]  # the only textarea is the comment form's
    assert 'name="title"' not in html


def test_the_dialog_is_named_by_the_cards_title(client, bob, board, ticket):
    client.force_login(bob)

    html = modal(client, board, ticket)

    labelled_by = re.search(r'<dialog [^>]*aria-labelledby="([^"]+)"', html).group(1)
    assert re.search(rf'<h2 [^>]*id="{labelled_by}"[^>]*>Tune the tokenizer</h2>', html)


def test_a_member_sees_every_side_field_as_a_form_that_saves_on_change(client, bob, board, ticket):
    client.force_login(bob)

    html = modal(client, board, ticket)

    for part in ("assignee", "points", "kind", "labels", "epic", "sprint", "timebox_days", "blocked"):
        assert f'hx-post="{field_url(board, ticket, part)}"' in html, part
    assert html.count('hx-trigger="change, submit"') == 8
    assert "Save card" not in html


def test_a_viewer_sees_the_side_panel_as_text_without_form_controls(client, vera, bob, board, ticket):
    services.ticket_patch(board=board, ticket_id=ticket.pk, actor=bob, changes={"points": 5, "assignee": bob})
    client.force_login(vera)

    html = modal(client, board, ticket)

    side = html.split('class="ticket-fields"')[1].split("</section>")[0]
    assert "<select" not in side and "<input" not in side and "<form" not in side
    assert "Bob Member" in side and ">5<" in side
    assert "/fields/" not in html  # no editor, no per-field save
    assert "data-edit-click" not in html


# --- the title and the description, edited in place --------------------------------------

def test_the_title_editor_holds_the_title_and_the_version_it_opened_at(client, bob, board, ticket):
    client.force_login(bob)

    response = client.get(field_url(board, ticket, "title") + "?edit=1", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert re.search(r'<input [^>]*name="title"[^>]*value="Tune the tokenizer"', html)
    assert f'name="version" value="{ticket.version}"' in html


def test_the_description_editor_holds_the_markdown_source(client, bob, board, ticket):
    client.force_login(bob)

    html = client.get(field_url(board, ticket, "description") + "?edit=1", **HTMX).content.decode()

    assert "Try **byte-level** BPE on the chat corpus.</textarea>" in html


def test_saving_the_title_writes_it_with_its_event_and_answers_the_title_as_text(client, bob, board, ticket):
    client.force_login(bob)

    response = save(client, board, ticket, "title", {"title": "Tune the BPE tokenizer", "version": ticket.version})

    html = response.content.decode()
    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).title == "Tune the BPE tokenizer"
    [event] = events(ticket, "title")[1:]
    assert (event.old, event.new, event.actor_id) == ("Tune the tokenizer", "Tune the BPE tokenizer", bob.pk)
    assert re.search(r'<h2 class="ticket-title" id="ticket-title-\d+"[^>]*>Tune the BPE tokenizer</h2>', html)
    assert 'hx-swap-oob="true"' in html  # the activity stream and the flags follow
    assert "mk:changed" in response.headers["HX-Trigger"]


def test_saving_the_description_keeps_the_markdown_and_renders_it(client, bob, board, ticket):
    client.force_login(bob)

    response = save(client, board, ticket, "description", {"description": "Use *unigram* instead.",
                                                           "version": ticket.version})

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).description == "Use *unigram* instead."
    assert "<em>unigram</em>" in response.content.decode()
    assert len(events(ticket, "description")) == 2  # created, then changed


def test_an_empty_title_is_refused_next_to_the_field_and_nothing_is_saved(client, bob, board, ticket):
    client.force_login(bob)
    before = TicketEvent.objects.count()

    response = save(client, board, ticket, "title", {"title": "  ", "version": ticket.version})

    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'name="title".*?<div class="field-error" role="alert">[^<]*required', html, re.S)
    assert Ticket.objects.get(pk=ticket.pk).title == "Tune the tokenizer"
    assert TicketEvent.objects.count() == before


def test_a_title_saved_over_someone_elses_change_is_refused_with_409_and_their_version(client, bob, alice,
                                                                                       board, ticket):
    opened_at = ticket.version
    services.ticket_patch(board=board, ticket_id=ticket.pk, actor=alice, changes={"title": "Alice's title"})
    client.force_login(bob)

    response = save(client, board, ticket, "title", {"title": "Bob's title", "version": opened_at})

    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this card" in html
    assert "Alice&#x27;s title" in html
    assert Ticket.objects.get(pk=ticket.pk).title == "Alice's title"


def test_the_whole_card_form_still_answers_a_bad_title_next_to_the_title(client, bob, board, ticket):
    """POST to the card itself (every field at once) stays for scripts and pages without JavaScript."""
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/", {
        "version": ticket.version, "title": "", "kind": "story", "timebox_days": 3}, **HTMX)

    assert response.status_code == 422
    assert re.search(r'id="tf-title".*?<div class="field-error" role="alert">', response.content.decode(), re.S)
    assert Ticket.objects.get(pk=ticket.pk).title == "Tune the tokenizer"


# --- the side panel: one field per POST ----------------------------------------------------

@pytest.mark.parametrize("part, data, expected", [
    ("points", {"points": "8"}, {"points": 8}),
    ("kind", {"kind": "bug"}, {"kind": "bug"}),
    ("timebox_days", {"timebox_days": "2"}, {"timebox_days": 2}),
    ("blocked", {"blocked": "on", "blocked_reason": "Waiting for GPUs"},
     {"blocked": True, "blocked_reason": "Waiting for GPUs"}),
])
def test_a_side_field_change_is_saved_alone_with_its_event(client, bob, board, ticket, part, data, expected):
    client.force_login(bob)
    before = Ticket.objects.get(pk=ticket.pk)

    response = save(client, board, ticket, part, data)

    assert response.status_code == 200, response.content[:400]
    after = Ticket.objects.get(pk=ticket.pk)
    for name, value in expected.items():
        assert getattr(after, name) == value
        assert events(ticket, name)[-1].new == value
        assert events(ticket, name)[-1].actor_id == bob.pk
    assert after.title == before.title and after.version == before.version + 1
    assert 'class="saved-note"' in response.content.decode()


def test_assignee_epic_and_sprint_are_saved_with_their_events(client, alice, bob, board, ticket):
    epic = services.epic_create(board=board, name="Tokenizers")
    sprint = services.sprint_create(board=board, name="Sprint 4", start=timezone.localdate(),
                                    end=timezone.localdate() + timedelta(days=13))
    client.force_login(bob)

    for part, value in (("assignee", bob.pk), ("epic", epic.pk), ("sprint", sprint.pk)):
        assert save(client, board, ticket, part, {part: value}).status_code == 200

    t = Ticket.objects.get(pk=ticket.pk)
    assert (t.assignee_id, t.epic_id, t.sprint_id) == (bob.pk, epic.pk, sprint.pk)
    assert events(ticket, "assignee")[-1].new_display == "Bob Member"
    assert events(ticket, "epic")[-1].new == epic.pk and events(ticket, "sprint")[-1].new == sprint.pk


def test_labels_are_saved_as_a_set_one_event_per_label_added_or_removed(client, alice, bob, board, ticket):
    nlp, data, infra = (services.label_create(board=board, name=n) for n in ("nlp", "data", "infra"))
    client.force_login(bob)

    save(client, board, ticket, "labels", {"labels": [nlp.pk, data.pk]})
    response = save(client, board, ticket, "labels", {"labels": [data.pk, infra.pk]})

    assert response.status_code == 200
    assert set(Ticket.objects.get(pk=ticket.pk).labels.values_list("name", flat=True)) == {"data", "infra"}
    assert [(e.old_display, e.new_display) for e in events(ticket, "labels")] == [
        ("", "nlp"), ("", "data"), ("nlp", ""), ("", "infra"),
    ]
    chips = re.search(r'<ul class="chips"[^>]*>(.*?)</ul>', response.content.decode(), re.S).group(1)
    assert re.findall(r">(\w+)</li>", chips) == ["data", "infra"]


def test_clearing_the_labels_removes_them_all(client, bob, board, ticket):
    nlp = services.label_create(board=board, name="nlp")
    services.ticket_patch(board=board, ticket_id=ticket.pk, actor=bob, changes={"labels": (nlp,)})
    client.force_login(bob)

    response = save(client, board, ticket, "labels", {})

    assert response.status_code == 200
    assert not Ticket.objects.get(pk=ticket.pk).labels.exists()


@pytest.mark.parametrize("part, data, message", [
    ("points", {"points": "101"}, "less than or equal to 100"),
    ("points", {"points": "lots"}, "whole number"),
    ("timebox_days", {"timebox_days": "0"}, "greater than or equal to 1"),
    ("kind", {"kind": "epic"}, "Select a valid choice"),
    ("blocked", {"blocked": "on", "blocked_reason": ""}, "Say what blocks the ticket."),
])
def test_a_bad_value_is_refused_with_422_next_to_its_field_and_nothing_is_saved(client, bob, board, ticket,
                                                                               part, data, message):
    client.force_login(bob)
    before = (Ticket.objects.get(pk=ticket.pk).version, TicketEvent.objects.count())

    response = save(client, board, ticket, part, data)

    html = response.content.decode()
    assert response.status_code == 422
    part_html = re.search(rf'<form class="side-part part-{part}.*?</form>', html, re.S).group(0)
    assert message in part_html
    assert 'class="field-error"' in part_html
    assert (Ticket.objects.get(pk=ticket.pk).version, TicketEvent.objects.count()) == before


def test_blocking_without_a_reason_keeps_the_box_ticked_and_asks_for_the_reason(client, bob, board, ticket):
    client.force_login(bob)

    html = save(client, board, ticket, "blocked", {"blocked": "on"}).content.decode()

    assert re.search(r'<input type="checkbox" name="blocked"[^>]*checked', html)
    assert 'name="blocked_reason"' in html
    assert not Ticket.objects.get(pk=ticket.pk).blocked


def test_an_assignee_from_outside_the_board_is_refused(client, bob, charlie, board, ticket):
    client.force_login(bob)

    response = save(client, board, ticket, "assignee", {"assignee": charlie.pk})

    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_an_unknown_field_is_404(client, bob, board, ticket):
    client.force_login(bob)

    assert save(client, board, ticket, "column", {"column": 1}).status_code == 404
    assert client.get(field_url(board, ticket, "points") + "?edit=1", **HTMX).status_code == 404


def test_without_htmx_a_save_goes_back_to_the_cards_page(client, bob, board, ticket):
    client.force_login(bob)

    response = client.post(field_url(board, ticket, "points"), {"points": "3"})

    assert response.status_code == 302
    assert response.url == f"/b/{board.pk}/t/{ticket.number}/"
    assert Ticket.objects.get(pk=ticket.pk).points == 3


# --- who may ---------------------------------------------------------------------------------

def test_a_viewer_cannot_open_an_editor_or_save_a_field(client, vera, board, ticket):
    client.force_login(vera)
    before = (Ticket.objects.get(pk=ticket.pk).version, TicketEvent.objects.count())

    assert client.get(field_url(board, ticket, "title") + "?edit=1", **HTMX).status_code == 403
    assert save(client, board, ticket, "points", {"points": "3"}).status_code == 403
    assert save(client, board, ticket, "title", {"title": "Mine", "version": ticket.version}).status_code == 403
    assert (Ticket.objects.get(pk=ticket.pk).version, TicketEvent.objects.count()) == before


def test_a_viewer_may_read_the_title_as_text(client, vera, board, ticket):
    client.force_login(vera)

    response = client.get(field_url(board, ticket, "title"), **HTMX)

    assert response.status_code == 200
    assert "Tune the tokenizer" in response.content.decode()


def test_someone_outside_the_board_gets_404_for_the_modal_the_editor_and_a_save(client, charlie, board, ticket):
    client.force_login(charlie)

    assert client.get(f"/b/{board.pk}/t/{ticket.number}/", **HTMX).status_code == 404
    assert client.get(field_url(board, ticket, "title") + "?edit=1", **HTMX).status_code == 404
    assert save(client, board, ticket, "points", {"points": "3"}).status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).points is None


# --- one activity stream --------------------------------------------------------------------

def test_comments_and_history_are_one_stream_newest_first(client, alice, bob, board, ticket):
    services.comment_add(board=board, ticket_id=ticket.pk, author=bob, body="First thought")
    services.ticket_patch(board=board, ticket_id=ticket.pk, actor=alice, changes={"points": 5})
    services.comment_add(board=board, ticket_id=ticket.pk, author=alice, body="Second thought")
    client.force_login(bob)

    html = modal(client, board, ticket)

    stream = re.search(r'<ol class="activity-stream"[^>]*>(.*?)</ol>', html, re.S).group(1)
    lines = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", li)).strip()
             for li in re.findall(r"<li class=\"activity-\w+\">(.*?)</li>", stream, re.S)]
    # newest first:   Alice's comment, Alice's points change, Bob's comment, the card's creation
    assert "Alice Owner" in lines[0] and "Second thought" in lines[0]
    assert lines[1].startswith("Alice Owner changed points")
    assert "Bob Member" in lines[2] and "First thought" in lines[2]
    assert lines[3].startswith("Alice Owner created the card")
    assert len(lines) == 4  # a comment's own "commented" history line is not repeated


def test_the_comment_form_is_above_the_stream(client, bob, board, ticket):
    client.force_login(bob)

    html = modal(client, board, ticket)

    assert html.index('class="comment-form"') < html.index('class="activity-stream"')


# --- queries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 12])
def test_the_modal_takes_the_same_queries_for_few_or_many_comments_and_events(
    client, alice, bob, board, ticket, size, django_assert_num_queries
):
    label = services.label_create(board=board, name="nlp")
    services.ticket_patch(board=board, ticket_id=ticket.pk, actor=alice, changes={"labels": (label,)})
    for i in range(size):
        services.comment_add(board=board, ticket_id=ticket.pk, author=bob if i % 2 else alice, body=f"Note {i}")
        services.ticket_patch(board=board, ticket_id=ticket.pk, actor=bob, changes={"points": i})
    client.force_login(bob)
    modal(client, board, ticket)  # the session is loaded once

    # user, membership with its board; the ticket with its relations, labels, comments, events (4);
    # hypotheses; the form's members, assignee choices, label, epic and sprint choices; the columns
    with django_assert_num_queries(13):
        response = client.get(f"/b/{board.pk}/t/{ticket.number}/", **HTMX)

    assert response.status_code == 200


@pytest.mark.parametrize("size", [1, 12])
def test_a_side_field_save_takes_the_same_queries_for_few_or_many_comments_and_events(
    client, alice, bob, board, ticket, size, django_assert_num_queries
):
    for i in range(size):
        services.comment_add(board=board, ticket_id=ticket.pk, author=alice, body=f"Note {i}")
        services.ticket_patch(board=board, ticket_id=ticket.pk, actor=bob, changes={"points": i})
    client.force_login(bob)
    modal(client, board, ticket)

    # user, membership; the ticket with labels, comments, events (4); the form's members; the write: BEGIN,
    # lock the board, the ticket, its labels, UPDATE, INSERT the event, bump the board, COMMIT; the answer:
    # the ticket again (4), the form's members, hypotheses
    with django_assert_num_queries(21):
        response = save(client, board, ticket, "points", {"points": "40"})

    assert response.status_code == 200

