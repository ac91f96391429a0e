"""What the pages show: partials, the board, escaping and sanitising, filters,
swimlanes, the poll, sign-up, the settings page and the admin."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from board import services
from board.models import Board, Column, Comment, Membership, Ticket, TicketEvent
from tests.factories import make_ticket

User = get_user_model()
HTMX = {"HTTP_HX_REQUEST": "true"}
EVIL = "<img src=x onerror=alert(1)>"
EVIL_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []  # (tag, {attr: value})
        self.script_text = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def assert_no_injected_markup(html: str) -> None:
    """No event-handler attribute, no javascript: URL, no inline script that alerts."""
    parsed = parse(html)
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not any((value or "").strip().lower().startswith("javascript:") for value in attrs.values()), (tag, attrs)
    assert not any("alert(1)" in text for text in parsed.script_text)


def cells(content: bytes) -> dict:
    """{(lane, column id): [card ids in page order]} from a board page."""
    result = {}
    for column, lane, body in re.findall(r'<ol class="cards" data-column="(\d+)" data-lane="([^"]*)">(.*?)</ol>',
                                          content.decode(), re.S):
        result[(lane, int(column))] = [int(pk) for pk in re.findall(r'<li class="card [^"]*" id="card-(\d+)"', body)]
    return result


def card_ids(content: bytes) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="card [^"]*" id="card-(\d+)"', content.decode())]


def column_head(content: bytes, column_id: int) -> tuple[str, str]:
    """(the column head's class, its count text)."""
    match = re.search(
        rf'<div class="column-head ([^"]*)" data-column-head="{column_id}".*?<span class="count" data-count-for="{column_id}"[^>]*>([^<]*)</span>',
        content.decode(), re.S,
    )
    assert match, f"no head for column {column_id}"
    return match.group(1), match.group(2)


# --- htmx partials -------------------------------------------------------------------

@pytest.fixture
def ticket(board, alice, columns):
    return make_ticket(board, alice, title="Tune the tokenizer", column=columns[0])


@pytest.mark.django_db
def test_the_card_modal_is_a_fragment(client, alice, board, ticket):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/t/{ticket.number}/", **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert response.content.decode().lstrip().startswith('<dialog class="modal"')
    assert "Tune the tokenizer" in response.content.decode()


@pytest.mark.django_db
def test_the_card_without_htmx_is_a_whole_page(client, alice, board, ticket):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/t/{ticket.number}/")

    assert "<html" in response.content.decode()
    assert "<dialog" not in response.content.decode()


@pytest.mark.django_db
def test_the_next_page_of_a_column_is_a_fragment(client, alice, board, columns, ticket):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/columns/{columns[0].pk}/more/?after=", **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert card_ids(response.content) == [ticket.pk]


@pytest.mark.django_db
def test_the_move_answer_is_the_cards_new_place_version_and_bottom_row(client, alice, board, columns, ticket):
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/move/",
                           {"ticket": ticket.pk, "version": 1, "column": columns[2].pk}, **HTMX)

    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert card_ids(response.content) == [ticket.pk]
    assert f'data-column="{columns[2].pk}"' in content
    assert 'data-version="2"' in content
    assert '<span class="age" title="In this column since' in content  # the clock restarts in the new column
    # The title, labels and runs stay as the board shows them: a move does not change them.
    assert "card-title" not in content
    # The board polls at once and gets the card in full.
    assert "mk:changed" in response.headers["HX-Trigger"]


@pytest.mark.django_db
def test_adding_a_comment_answers_the_comments_section_as_a_fragment(client, alice, board, ticket):
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/comments/", {"body": "Loss is flat after step 300"},
                           **HTMX)

    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert content.lstrip().startswith('<section class="comments" id="comments">')
    assert "Loss is flat after step 300" in content
    assert Comment.objects.get().body == "Loss is flat after step 300"


# --- the board page --------------------------------------------------------------------

@pytest.mark.django_db
def test_the_board_page_shows_every_column_name_in_order(client, alice, board, columns):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    names = re.findall(r'<div class="column-head [^"]*"[^>]*>\s*<h2>([^<]*)</h2>', response.content.decode())
    assert names == ["Backlog", "Whiteboarding", "Implementation", "Code review", "Done"]


@pytest.mark.django_db
def test_the_board_page_shows_cards_in_rank_order(client, alice, board, columns):
    a, b, c = (make_ticket(board, alice, title=t, column=columns[0]) for t in ("A", "B", "C"))
    services.ticket_move(board=board, actor=alice, ticket_id=c.pk, expected_version=1, to_column_id=columns[0].pk,
                         position="top")
    services.ticket_move(board=board, actor=alice, ticket_id=a.pk, expected_version=1, to_column_id=columns[0].pk,
                         after_id=b.pk)
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert cells(response.content)[("", columns[0].pk)] == [c.pk, b.pk, a.pk]


@pytest.mark.django_db
def test_the_column_head_counts_cards_against_the_wip_limit(client, alice, board, columns):
    for i in range(2):
        make_ticket(board, alice, title=f"W{i}", column=columns[1])  # Whiteboarding, limit 3
    for i in range(4):
        make_ticket(board, alice, title=f"I{i}", column=columns[2])  # Implementation, limit 4
    make_ticket(board, alice, title="Backlog card", column=columns[0])  # no limit
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    under_class, under_count = column_head(response.content, columns[1].pk)
    at_class, at_count = column_head(response.content, columns[2].pk)
    free_class, free_count = column_head(response.content, columns[0].pk)
    assert (under_count, at_count, free_count) == ("2 / 3", "4 / 4", "1")
    assert "over-wip" not in under_class and "at-wip" not in under_class
    assert "at-wip" in at_class and "over-wip" not in at_class
    assert "wip" not in free_class


@pytest.mark.django_db
def test_a_column_over_its_wip_limit_is_marked(client, alice, board, columns):
    for i in range(4):
        make_ticket(board, alice, title=f"W{i}", column=columns[1])  # Whiteboarding, limit 3
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    klass, count = column_head(response.content, columns[1].pk)
    assert count == "4 / 3"
    assert "over-wip" in klass.split()


@pytest.mark.django_db
def test_the_wip_count_ignores_filters(client, alice, board, columns):
    for i in range(4):
        make_ticket(board, alice, title=f"W{i}", column=columns[1], kind="bug" if i == 0 else "story")
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?kind=bug")

    assert len(cells(response.content)[("", columns[1].pk)]) == 1
    assert column_head(response.content, columns[1].pk)[1] == "4 / 3"


@pytest.mark.django_db
def test_a_viewer_sees_a_read_only_board_without_the_add_form_or_move_buttons(client, vera, board, ticket):
    client.force_login(vera)

    content = client.get(f"/b/{board.pk}/").content.decode()

    assert 'class="board read-only"' in content
    assert "quick-add" not in content
    assert 'class="card-move"' not in content
    assert "Settings" not in content


# --- escaping and sanitising -------------------------------------------------------------

@pytest.fixture
def evil_ticket(board, alice, columns):
    ticket = make_ticket(board, alice, title="Harmless at first", column=columns[0])
    return services.ticket_update(ticket_id=ticket.pk, board=board, actor=alice, expected_version=1,
                                  data=services.TicketInput(title=EVIL))


@pytest.mark.django_db
def test_a_card_title_with_html_is_escaped_on_the_board(client, alice, board, evil_ticket):
    client.force_login(alice)

    content = client.get(f"/b/{board.pk}/").content.decode()

    assert EVIL not in content
    assert EVIL_ESCAPED in content
    assert_no_injected_markup(content)


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False], ids=["modal", "page"])
def test_a_card_title_with_html_is_escaped_in_the_card_and_its_history(client, alice, board, evil_ticket, htmx):
    client.force_login(alice)

    content = client.get(f"/b/{board.pk}/t/{evil_ticket.number}/", **(HTMX if htmx else {})).content.decode()

    assert EVIL not in content
    history = re.search(r'<ol class="activity-stream"[^>]*>(.*?)</ol>', content, re.S).group(1)
    assert f"<q>Harmless at first</q> → <q>{EVIL_ESCAPED}</q>" in history
    assert_no_injected_markup(content)


@pytest.mark.django_db
def test_a_card_title_with_html_is_escaped_in_the_polls_card_html(client, alice, board, evil_ticket):
    client.force_login(alice)
    board.refresh_from_db()

    response = client.get(f"/b/{board.pk}/poll/?v={board.version - 1}&layout={board.layout_version}")

    [card] = response.json()["cards"]
    assert card["id"] == evil_ticket.pk
    assert EVIL not in card["html"]
    assert EVIL_ESCAPED in card["html"]
    assert_no_injected_markup(card["html"])


@pytest.mark.django_db
def test_label_epic_blocked_reason_and_person_names_are_escaped_on_cards(client, alice, bob, board):
    """Cards are built in Python (board/cards.py): every user-typed value must be escaped."""
    bob.first_name, bob.last_name = EVIL, "<b>Member</b>"
    bob.save()
    label = services.label_create(board=board, name=EVIL)
    epic = services.epic_create(board=board, name=EVIL)
    make_ticket(board, alice, title="Plain title", labels=(label,), epic=epic, assignee=bob, blocked=True,
                blocked_reason=EVIL)
    board.refresh_from_db()
    client.force_login(alice)

    page = client.get(f"/b/{board.pk}/").content.decode()
    [card] = client.get(f"/b/{board.pk}/poll/?v={board.version - 1}&layout={board.layout_version}").json()["cards"]
    lanes = client.get(f"/b/{board.pk}/?lanes=assignee").content.decode()

    for content in (page, card["html"], lanes):
        assert EVIL not in content
        assert "<b>Member</b>" not in content
        assert_no_injected_markup(content)
    assert card["html"].count(EVIL_ESCAPED) >= 3  # label, epic, blocked reason (and the assignee's name)


DESCRIPTION = "\n\n".join([
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    EVIL,
    "**bold** and [docs](https://example.org/docs)",
])


@pytest.mark.django_db
def test_a_description_renders_markdown_without_scripts_javascript_urls_or_handlers(client, alice, board, ticket):
    services.ticket_update(ticket_id=ticket.pk, board=board, actor=alice, expected_version=1,
                           data=services.TicketInput(title=ticket.title, description=DESCRIPTION))
    client.force_login(alice)

    content = client.get(f"/b/{board.pk}/t/{ticket.number}/", **HTMX).content.decode()

    rendered = re.search(r'<h3[^>]*>Description</h3>\s*<div class="markdown"[^>]*>(.*?)</div>', content, re.S).group(1)
    tags = parse(rendered).tags
    assert "<strong>bold</strong>" in rendered
    assert ("a", {"href": "https://example.org/docs", "rel": "noopener noreferrer nofollow"}) in tags
    assert "script" not in [tag for tag, _ in tags]
    assert "img" not in [tag for tag, _ in tags]
    assert "javascript:" not in " ".join(str(attrs) for _, attrs in tags)
    assert_no_injected_markup(content)  # the edit form holds the raw text, escaped


@pytest.mark.django_db
def test_a_comment_is_sanitised_markdown_too(client, alice, board, ticket):
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/comments/", {"body": DESCRIPTION}, **HTMX)

    content = response.content.decode()
    body = re.search(r'<article class="comment">.*?<div class="markdown">(.*?)</div></article>', content, re.S).group(1)
    assert "<strong>bold</strong>" in body
    assert "script" not in [tag for tag, _ in parse(body).tags]
    assert_no_injected_markup(content)


# --- filters -----------------------------------------------------------------------------

@pytest.fixture
def filter_board(board, alice, bob, vera, columns):
    nlp = services.label_create(board=board, name="nlp")
    vision = services.label_create(board=board, name="vision")
    t = {
        "bob_bug": make_ticket(board, alice, title="Tokenizer drops emojis", kind="bug", assignee=bob, labels=(nlp,)),
        "bob_story": make_ticket(board, alice, title="Batch inference API", assignee=bob, column=columns[2]),
        "vera_research": make_ticket(board, alice, title="Read the ViT paper", kind="research", assignee=vera,
                                     labels=(vision,)),
        "blocked": make_ticket(board, alice, title="Train on the new cluster", blocked=True,
                               blocked_reason="cluster quota", labels=(nlp, vision), column=columns[1]),
        "plain": make_ticket(board, alice, title="Write the README", description="mention the tokenizer"),
    }
    return t


def _shown(client, board, query):
    response = client.get(f"/b/{board.pk}/?{query}")
    assert response.status_code == 200
    return set(card_ids(response.content)), response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query, expected", [
    ("assignee=bob", {"bob_bug", "bob_story"}),
    ("assignee=none", {"blocked", "plain"}),
    ("kind=bug", {"bob_bug"}),
    ("kind=research", {"vera_research"}),
    ("label=nlp", {"bob_bug", "blocked"}),
    ("label=vision&assignee=vera", {"vera_research"}),
    ("q=tokenizer", {"bob_bug", "plain"}),  # by title and by description
    ("q=MLK-3", {"vera_research"}),  # by key
    ("q=mlk-2", {"bob_story"}),
    ("blocked=true", {"blocked"}),
    ("q=nothing+like+this", set()),
    ("", {"bob_bug", "bob_story", "vera_research", "blocked", "plain"}),
])
def test_filters_in_the_url_narrow_the_board(client, alice, board, filter_board, query, expected):
    client.force_login(alice)

    shown, content = _shown(client, board, query)

    assert shown == {filter_board[name].pk for name in expected}
    assert ("Showing cards that match the filters" in content) == bool(query)


@pytest.mark.django_db
def test_a_filtered_board_keeps_the_filters_in_its_form_and_urls(client, alice, board, filter_board):
    client.force_login(alice)

    _, content = _shown(client, board, "assignee=bob&kind=bug&q=emoji")

    assert '<option value="bob" selected>' in content
    assert '<option value="bug" selected>' in content
    assert 'name="q" value="emoji"' in content
    assert 'data-qs="assignee=bob&amp;kind=bug&amp;q=emoji"' in content


@pytest.mark.django_db
def test_a_filter_matching_nothing_says_so(client, alice, board, filter_board):
    client.force_login(alice)

    _, content = _shown(client, board, "q=zzz")

    assert "<strong>none match</strong>" in content


# --- swimlanes ---------------------------------------------------------------------------

def _lanes(content: bytes) -> list[tuple[str, str]]:
    return re.findall(
        r'<div class="lane-title"><span>([^<]*?) <span class="points-total"[^>]*>[^<]*</span></span></div>'
        r'\s*<div class="lane" data-lane="([^"]*)">', content.decode(),
    )


@pytest.mark.django_db
def test_swimlanes_by_assignee_show_one_lane_per_member_and_an_unassigned_lane(
    client, alice, bob, vera, board, columns, filter_board
):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?lanes=assignee")

    assert _lanes(response.content) == [
        ("Alice Owner", str(alice.pk)), ("Bob Member", str(bob.pk)), ("Vera Viewer", str(vera.pk)),
        ("Unassigned", "none"),
    ]
    grid = cells(response.content)
    assert grid[(str(bob.pk), columns[0].pk)] == [filter_board["bob_bug"].pk]
    assert grid[(str(bob.pk), columns[2].pk)] == [filter_board["bob_story"].pk]
    assert grid[(str(vera.pk), columns[0].pk)] == [filter_board["vera_research"].pk]
    assert grid[("none", columns[0].pk)] == [filter_board["plain"].pk]
    assert grid[("none", columns[1].pk)] == [filter_board["blocked"].pk]
    assert sum(len(ids) for ids in grid.values()) == 5


@pytest.mark.django_db
def test_swimlanes_by_epic_show_one_lane_per_epic_and_a_no_epic_lane(client, alice, board, columns):
    retrieval = services.epic_create(board=board, name="Retrieval")
    evaluation = services.epic_create(board=board, name="Evaluation")
    in_retrieval = make_ticket(board, alice, title="Index the corpus", epic=retrieval)
    in_evaluation = make_ticket(board, alice, title="Build the eval set", epic=evaluation, column=columns[1])
    loose = make_ticket(board, alice, title="Tidy up")
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?lanes=epic")

    assert _lanes(response.content) == [
        ("Evaluation", str(evaluation.pk)), ("Retrieval", str(retrieval.pk)), ("No epic", "none"),
    ]
    grid = cells(response.content)
    assert grid[(str(retrieval.pk), columns[0].pk)] == [in_retrieval.pk]
    assert grid[(str(evaluation.pk), columns[1].pk)] == [in_evaluation.pk]
    assert grid[("none", columns[0].pk)] == [loose.pk]
    assert sum(len(ids) for ids in grid.values()) == 3


@pytest.mark.django_db
def test_an_unknown_swimlane_mode_shows_the_plain_board(client, alice, board, ticket):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?lanes=planet")

    assert _lanes(response.content) == []
    assert card_ids(response.content) == [ticket.pk]


# --- the poll ----------------------------------------------------------------------------

@pytest.fixture
def polled(board, alice, columns):
    """Three cards, and the version a client loaded them at."""
    cards = [make_ticket(board, alice, title=f"Card {i}", column=columns[0]) for i in range(3)]
    board.refresh_from_db()
    return cards, board.version, board.layout_version


def _poll(client, board, version, layout, extra=""):
    return client.get(f"/b/{board.pk}/poll/?v={version}&layout={layout}{extra}")


@pytest.mark.django_db
def test_the_poll_answers_204_while_the_board_is_unchanged(client, alice, board, polled):
    _, version, layout = polled
    client.force_login(alice)

    response = _poll(client, board, version, layout)

    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.django_db
def test_the_poll_answers_exactly_the_changed_cards(client, alice, bob, board, columns, polled):
    cards, version, layout = polled
    services.ticket_move(board=board, actor=bob, ticket_id=cards[1].pk, expected_version=1,
                         to_column_id=columns[2].pk)
    client.force_login(alice)

    response = _poll(client, board, version, layout)

    assert response.status_code == 200
    data = response.json()
    assert data["reload"] is False
    assert data["version"] == version + 1
    assert [c["id"] for c in data["cards"]] == [cards[1].pk]
    [card] = data["cards"]
    moved = Ticket.objects.get(pk=cards[1].pk)
    assert (card["column"], card["rank"], card["lane"]) == (columns[2].pk, moved.rank, "")
    assert f'id="card-{moved.pk}"' in card["html"] and 'data-version="2"' in card["html"]
    assert data["gone"] == []
    assert data["counts"] == {str(columns[0].pk): 2, str(columns[2].pk): 1}


@pytest.mark.django_db
def test_the_poll_includes_a_card_that_only_got_a_comment(client, alice, bob, board, polled):
    cards, version, layout = polled
    services.comment_add(board=board, ticket_id=cards[2].pk, author=bob, body="Looks good")
    client.force_login(alice)

    data = _poll(client, board, version, layout).json()

    assert [c["id"] for c in data["cards"]] == [cards[2].pk]


@pytest.mark.django_db
def test_the_poll_reports_a_changed_card_that_left_the_filtered_view_as_gone(client, alice, bob, board, polled):
    cards, version, layout = polled
    services.ticket_update(ticket_id=cards[0].pk, board=board, actor=bob, expected_version=1,
                           data=services.TicketInput(title="Card 0", kind="bug"))
    services.ticket_update(ticket_id=cards[1].pk, board=board, actor=bob, expected_version=1,
                           data=services.TicketInput(title="Card 1 renamed"))
    client.force_login(alice)

    data = _poll(client, board, version, layout, "&kind=bug").json()

    assert [c["id"] for c in data["cards"]] == [cards[0].pk]
    assert data["gone"] == [cards[1].pk]


@pytest.mark.django_db
def test_the_poll_gives_each_card_its_swimlane(client, alice, bob, board, polled):
    cards, version, layout = polled
    services.ticket_update(ticket_id=cards[0].pk, board=board, actor=alice, expected_version=1,
                           data=services.TicketInput(title="Card 0", assignee=bob))
    services.ticket_update(ticket_id=cards[1].pk, board=board, actor=alice, expected_version=1,
                           data=services.TicketInput(title="Card 1b"))
    client.force_login(alice)

    data = _poll(client, board, version, layout, "&lanes=assignee").json()

    assert {c["id"]: c["lane"] for c in data["cards"]} == {cards[0].pk: str(bob.pk), cards[1].pk: "none"}


@pytest.mark.django_db
def test_the_poll_asks_for_a_reload_when_more_cards_changed_than_it_sends(client, alice, board, polled,
                                                                         monkeypatch):
    cards, version, layout = polled
    monkeypatch.setattr("board.selectors.MAX_CHANGES", 2)
    for card in cards:
        services.comment_add(board=board, ticket_id=card.pk, author=alice, body="Checked")
    client.force_login(alice)

    data = _poll(client, board, version, layout).json()

    assert data["reload"] is True
    assert data["version"] == version + 3


@pytest.mark.django_db
def test_the_poll_asks_for_a_reload_when_the_layout_changed(client, alice, board, columns, polled):
    _, version, layout = polled
    services.column_update(board=board, column_id=columns[1].pk, name="Design", wip_limit=3, category="in_progress")
    client.force_login(alice)

    response = _poll(client, board, version, layout)

    assert response.status_code == 200
    board.refresh_from_db()
    assert response.json() == {"version": board.version, "layout_version": board.layout_version, "reload": True}
    assert board.layout_version == layout + 1


@pytest.mark.django_db
def test_the_poll_asks_for_a_reload_when_a_member_was_added(client, alice, charlie, board, polled):
    _, version, layout = polled
    invitation = services.invitation_create(board=board, identifier="charlie", role="member", invited_by=alice)
    services.invitation_accept(invitation_id=invitation.pk, user=charlie)
    client.force_login(alice)

    assert _poll(client, board, version, layout).json()["reload"] is True


# --- sign-up -------------------------------------------------------------------------

@pytest.mark.django_db
def test_signing_up_creates_an_account_and_logs_in(client):
    response = client.post("/accounts/signup/", {
        "username": "newbie", "email": "newbie@example.org",
        "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
    })

    assert response.status_code == 302
    assert response.url == "/"
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.org"
    assert user.check_password("a-long-passphrase-1")
    assert client.session["_auth_user_id"] == str(user.pk)
    index = client.get("/")
    assert index.status_code == 200
    assert "Welcome, newbie." in index.content.decode()


@pytest.mark.django_db
def test_the_signup_page_is_linked_from_the_login_page(client):
    assert 'href="/accounts/signup/"' in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/signup/").status_code == 200


@pytest.mark.django_db
def test_with_signup_turned_off_the_signup_page_is_404_and_unlinked(client, settings):
    settings.ALLOW_SIGNUP = False

    assert client.get("/accounts/signup/").status_code == 404
    response = client.post("/accounts/signup/", {
        "username": "newbie", "email": "newbie@example.org",
        "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
    })
    assert response.status_code == 404
    assert not User.objects.filter(username="newbie").exists()
    assert "/accounts/signup/" not in client.get("/accounts/login/").content.decode()


# --- the settings page -------------------------------------------------------------------

def _act(client, board, action, item=None, **data):
    url = f"/b/{board.pk}/settings/{action}/" + (f"{item}/" if item is not None else "")
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    assert response.url == f"/b/{board.pk}/settings/"
    return response


@pytest.mark.django_db
def test_the_settings_page_lists_columns_members_and_labels(client, alice, board, columns):
    services.label_create(board=board, name="nlp")
    client.force_login(alice)

    content = client.get(f"/b/{board.pk}/settings/").content.decode()

    for col in columns:
        assert f'value="{col.name}"' in content
    for username in ("alice", "bob", "vera"):
        assert f"@{username}" in content
    assert ">nlp</span>" in content


@pytest.mark.django_db
def test_an_owner_invites_by_email_and_the_person_joins_when_they_accept(client, alice, charlie, board):
    client.force_login(alice)

    _act(client, board, "invite", identifier="CHARLIE@example.org", role="member")

    assert not Membership.objects.filter(board=board, user=charlie).exists()
    assert "Invited “CHARLIE@example.org” as member" in client.get(f"/b/{board.pk}/settings/").content.decode()
    client.force_login(charlie)
    invitation_id = charlie.invitations.get(board=board).pk
    assert client.post(f"/invitations/{invitation_id}/accept/").status_code == 302
    assert Membership.objects.get(board=board, user=charlie).role == Membership.Role.MEMBER
    assert client.get(f"/b/{board.pk}/").status_code == 200


@pytest.mark.django_db
def test_an_owner_changes_a_members_role(client, alice, bob, board):
    client.force_login(alice)
    membership = Membership.objects.get(board=board, user=bob)

    _act(client, board, "member_role", membership.pk, role="viewer")

    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.VIEWER
    client.force_login(bob)
    assert client.post(f"/b/{board.pk}/tickets/new/", {"title": "x", "kind": "story"}).status_code == 403


@pytest.mark.django_db
def test_an_owner_can_hand_over_ownership_and_step_down(client, alice, bob, board):
    client.force_login(alice)
    _act(client, board, "member_role", Membership.objects.get(board=board, user=bob).pk, role="owner")

    _act(client, board, "member_role", Membership.objects.get(board=board, user=alice).pk, role="member")

    assert dict(Membership.objects.filter(board=board).values_list("user__username", "role")) == {
        "alice": "member", "bob": "owner", "vera": "viewer",
    }


@pytest.mark.django_db
def test_an_owner_removes_a_member(client, alice, bob, board):
    client.force_login(alice)

    _act(client, board, "member_remove", Membership.objects.get(board=board, user=bob).pk)

    assert not Membership.objects.filter(board=board, user=bob).exists()
    client.force_login(bob)
    assert client.get(f"/b/{board.pk}/").status_code == 404


@pytest.mark.django_db
def test_an_owner_adds_a_column_at_the_end(client, alice, board):
    client.force_login(alice)

    _act(client, board, "column_add", name="Evaluation", wip_limit="2", category="in_progress")

    last = board.columns.order_by("position").last()
    assert (last.name, last.wip_limit, last.category) == ("Evaluation", 2, "in_progress")
    assert "<h2>Evaluation</h2>" in client.get(f"/b/{board.pk}/").content.decode()


@pytest.mark.django_db
def test_an_owner_renames_a_column_and_changes_its_limit(client, alice, board, columns):
    client.force_login(alice)

    _act(client, board, "column_update", columns[1].pk, name="Design", wip_limit="", category="todo")

    col = Column.objects.get(pk=columns[1].pk)
    assert (col.name, col.wip_limit, col.category) == ("Design", None, "todo")


@pytest.mark.django_db
def test_an_owner_reorders_columns(client, alice, board, columns):
    client.force_login(alice)

    _act(client, board, "column_right", columns[0].pk)
    _act(client, board, "column_left", columns[4].pk)

    order = list(board.columns.order_by("position").values_list("name", flat=True))
    assert order == ["Whiteboarding", "Backlog", "Implementation", "Done", "Code review"]
    names = re.findall(r"<h2>([^<]*)</h2>", client.get(f"/b/{board.pk}/").content.decode())
    assert names == order


@pytest.mark.django_db
def test_an_owner_deletes_an_empty_column(client, alice, board, columns):
    client.force_login(alice)

    _act(client, board, "column_delete", columns[3].pk)

    assert not Column.objects.filter(pk=columns[3].pk).exists()


@pytest.mark.django_db
def test_deleting_a_column_with_a_target_moves_its_cards_and_records_column_events(client, alice, board, columns):
    already = make_ticket(board, alice, title="Already done", column=columns[4])
    moving = [make_ticket(board, alice, title=f"Review {i}", column=columns[3]) for i in range(3)]
    client.force_login(alice)
    version = Board.objects.get(pk=board.pk).version

    _act(client, board, "column_delete", columns[3].pk, move_to=columns[4].pk)

    assert not Column.objects.filter(pk=columns[3].pk).exists()
    done = list(Ticket.objects.filter(column=columns[4]).order_by("rank").values_list("pk", flat=True))
    assert done == [already.pk] + [t.pk for t in moving]  # appended, in their order
    for t in moving:
        fresh = Ticket.objects.get(pk=t.pk)
        assert fresh.version == 2
        assert fresh.done_at is not None  # entered a "done" column
        event = TicketEvent.objects.filter(ticket=t, field="column").order_by("-id").first()
        assert (event.old, event.new) == (columns[3].pk, columns[4].pk)
        assert (event.old_display, event.new_display, event.actor) == ("Code review", "Done", alice)
    assert Board.objects.get(pk=board.pk).version > version
    history = client.get(f"/b/{board.pk}/t/{moving[0].number}/").content.decode()
    assert "moved it <q>Code review</q> → <q>Done</q>" in history


@pytest.mark.django_db
def test_an_owner_adds_and_deletes_a_label_and_adds_an_epic_and_a_sprint(client, alice, board):
    client.force_login(alice)

    _act(client, board, "label_add", name="nlp", color="#1F7A8C")
    label = board.labels.get()
    assert label.color == "#1f7a8c"
    _act(client, board, "label_delete", label.pk)
    _act(client, board, "epic_add", name="Retrieval", color="#7c3aed")
    _act(client, board, "sprint_add", name="Sprint 1", start="2026-03-02", end="2026-03-13", goal="Ship v1")

    assert not board.labels.exists()
    assert list(board.epics.values_list("name", flat=True)) == ["Retrieval"]
    assert list(board.sprints.values_list("name", "goal")) == [("Sprint 1", "Ship v1")]


@pytest.mark.django_db
def test_an_owner_renames_the_board_and_its_prefix(client, alice, board, ticket):
    client.force_login(alice)

    _act(client, board, "board", name="Vision team", key="vis", wip_mode="hard")

    board.refresh_from_db()
    assert (board.name, board.key, board.wip_mode) == ("Vision team", "VIS", "hard")
    assert f"VIS-{ticket.number}" in client.get(f"/b/{board.pk}/").content.decode()


# --- the admin ---------------------------------------------------------------------------

BOARD_ADMIN_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "board"), key=lambda m: m._meta.model_name
)


@pytest.fixture
def admin_data(board, alice, bob, charlie, columns):
    label = services.label_create(board=board, name="nlp")
    epic = services.epic_create(board=board, name="Retrieval")
    sprint = services.sprint_create(board=board, name="Sprint 1", start="2026-03-02", end="2026-03-13")
    ticket = make_ticket(board, alice, title="Everything", assignee=bob, labels=(label,), epic=epic, sprint=sprint)
    services.comment_add(board=board, ticket_id=ticket.pk, author=bob, body="A comment")
    services.invitation_create(board=board, identifier="charlie@example.org", role="viewer", invited_by=alice)
    return board


def test_the_admin_registers_every_board_model():
    assert {m._meta.model_name for m in BOARD_ADMIN_MODELS} == {
        "board", "membership", "column", "label", "epic", "sprint", "ticket", "ticketevent", "comment", "invitation",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", BOARD_ADMIN_MODELS, ids=lambda m: m._meta.model_name)
def test_the_admin_changelist_and_change_page_of_every_board_model_answer_200(admin_client, admin_data, model):
    changelist = admin_client.get(reverse(f"admin:board_{model._meta.model_name}_changelist"))
    assert changelist.status_code == 200
    count = model.objects.count()
    assert count > 0
    name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    assert f"{count} {name}" in changelist.content.decode()

    obj = model.objects.order_by("pk").first()

    change = admin_client.get(reverse(f"admin:board_{model._meta.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200


@pytest.mark.django_db
def test_the_admin_is_closed_to_a_board_owner_who_is_not_staff(client, alice, admin_data):
    client.force_login(alice)

    response = client.get(reverse("admin:board_board_changelist"))

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.django_db
def test_the_admin_refuses_a_label_colour_that_is_not_a_hex_colour(admin_client, admin_data):
    label = admin_data.labels.get()
    url = reverse("admin:board_label_change", args=[label.pk])

    response = admin_client.post(url, {"board": admin_data.pk, "name": "nlp", "color": "red;}{a"})

    assert response.status_code == 200  # the form again, with the error
    assert "Use a colour like #1f7a8c." in response.content.decode()
    label.refresh_from_db()
    assert label.color == "#6b7280"
