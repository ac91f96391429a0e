"""The board's filter bar (issue 6, bug 2 and point 10): the controls show
the filters the board applies, each active filter is a chip whose link
removes that filter alone, and no link carries an empty parameter."""

import html
import re
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from board import services
from tests.factories import make_ticket

MON = date(2026, 11, 2)


def card_ids(content: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<li class="card [^"]*" id="card-(\d+)"', content)}


def chips(content: str) -> dict[str, tuple[str, str]]:
    """The chips of the filter bar: parameter → (the chip's text, its link)."""
    found = re.findall(
        r'<a class="filter-chip" href="([^"]*)" data-remove-filter="([^"]*)"[^>]*><span class="chip-text">(.*?)</span>',
        content,
    )
    return {param: (re.sub(r"<[^>]+>", "", html.unescape(text)), html.unescape(href)) for href, param, text in found}


def query(link: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(link).query, keep_blank_values=True)


def clear_all(content: str) -> str:
    return html.unescape(re.search(r'<a class="filter-clear" href="([^"]*)"', content).group(1))


def blocked_box_checked(content: str) -> bool:
    box = re.search(r'<input type="checkbox" name="blocked"[^>]*>', content).group(0)
    return " checked" in box


@pytest.fixture
def cards(board, alice, bob):
    nlp = services.label_create(board=board, name="nlp")
    vision = services.label_create(board=board, name="vision")
    return {
        "blocked_nlp": make_ticket(board, alice, title="Train on the new cluster", blocked=True,
                                   blocked_reason="cluster quota", labels=(nlp,)),
        "blocked_vision": make_ticket(board, alice, title="Label the frames", blocked=True,
                                      blocked_reason="annotators", labels=(vision,), assignee=bob),
        "nlp": make_ticket(board, alice, title="Tokenizer drops emojis", kind="bug", labels=(nlp,), assignee=bob),
        "plain": make_ticket(board, alice, title="Write the README"),
    }


def shown(client, board, params) -> tuple[set[int], str]:
    response = client.get(f"/b/{board.pk}/", params)
    assert response.status_code == 200
    content = response.content.decode()
    return card_ids(content), content


# --- bug 2: the Blocked box ----------------------------------------------------------------

@pytest.mark.django_db
def test_the_blocked_box_is_checked_when_the_board_shows_only_blocked_cards(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {"blocked": "true"})

    assert ids == {cards["blocked_nlp"].pk, cards["blocked_vision"].pk}
    assert blocked_box_checked(content)


@pytest.mark.django_db
def test_the_blocked_box_is_unchecked_without_the_filter(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {})

    assert len(ids) == 4
    assert not blocked_box_checked(content)


@pytest.mark.django_db
def test_blocked_combines_with_a_label_and_both_controls_show_as_set(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {"label": "nlp", "blocked": "true"})

    assert ids == {cards["blocked_nlp"].pk}
    assert blocked_box_checked(content)
    assert '<option value="nlp" selected>' in content
    assert set(chips(content)) == {"label", "blocked"}


@pytest.mark.django_db
def test_removing_the_label_keeps_the_blocked_filter_and_the_other_way_round(client, alice, board, cards):
    client.force_login(alice)
    _, content = shown(client, board, {"label": "nlp", "blocked": "true"})
    bar = chips(content)

    without_label, after = shown(client, board, dict(query(bar["label"][1])))
    without_blocked, _ = shown(client, board, dict(query(bar["blocked"][1])))

    assert without_label == {cards["blocked_nlp"].pk, cards["blocked_vision"].pk}
    assert blocked_box_checked(after)
    assert without_blocked == {cards["blocked_nlp"].pk, cards["nlp"].pk}


# --- chips -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_every_active_filter_is_a_chip_naming_it(client, alice, board, cards):
    client.force_login(alice)

    _, content = shown(client, board, {"q": "cluster", "assignee": "bob", "label": "nlp", "kind": "bug",
                                       "blocked": "true"})

    assert {param: text for param, (text, _) in chips(content).items()} == {
        "q": "Search: “cluster”",
        "assignee": "Assignee: Bob Member",  # by name, not by username
        "label": "Label: nlp",
        "kind": "Kind: Bug",
        "blocked": "Blocked",
    }
    assert 'aria-label="Remove the filter Assignee: Bob Member"' in content


@pytest.mark.django_db
def test_a_chip_link_drops_only_its_own_filter_and_keeps_the_lanes(client, alice, board, cards):
    client.force_login(alice)
    params = {"q": "cluster", "assignee": "bob", "label": "nlp", "kind": "bug", "blocked": "true",
              "lanes": "assignee"}

    _, content = shown(client, board, params)

    for param, (_, link) in chips(content).items():
        assert dict(query(link)) == {k: v for k, v in params.items() if k != param}, param


@pytest.mark.django_db
def test_links_of_the_bar_carry_no_empty_parameters(client, alice, board, cards):
    client.force_login(alice)

    # What a form submitted without JavaScript sends: every field, most of them empty.
    _, content = shown(client, board, {"q": "", "assignee": "bob", "label": "", "kind": "", "sprint": "",
                                       "blocked": "true", "lanes": ""})

    links = [link for _, link in chips(content).values()] + [clear_all(content)]
    assert links
    for link in links:
        assert all(value for _, value in query(link)), link
    assert dict(query(chips(content)["assignee"][1])) == {"blocked": "true"}


@pytest.mark.django_db
def test_an_unfiltered_board_has_no_chips(client, alice, board, cards):
    client.force_login(alice)

    _, content = shown(client, board, {})

    assert chips(content) == {}
    assert "filter-clear" not in content


@pytest.mark.django_db
def test_clear_all_on_a_board_without_an_active_sprint_is_the_bare_board(client, alice, board, cards):
    client.force_login(alice)

    _, content = shown(client, board, {"label": "nlp", "blocked": "true", "lanes": "epic"})

    assert clear_all(content) == f"/b/{board.pk}/"


# --- sprints: the board opens on the active sprint ------------------------------------------

@pytest.fixture
def sprints(board, alice):
    active = services.sprint_create(board=board, name="Now", start=MON, end=MON + timedelta(days=13))
    planned = services.sprint_create(board=board, name="Next", start=MON + timedelta(days=14),
                                     end=MON + timedelta(days=27))
    services.sprint_start(board=board, sprint_id=active.pk, actor=alice)
    return {
        "active": active, "planned": planned,
        "in_active": make_ticket(board, alice, title="In the active sprint", sprint=active, blocked=True,
                                 blocked_reason="GPU quota"),
        "in_planned": make_ticket(board, alice, title="In the planned sprint", sprint=planned),
        "backlog": make_ticket(board, alice, title="In the backlog"),
    }


@pytest.mark.django_db
def test_the_default_sprint_shows_as_a_chip_whose_removal_shows_every_card(client, alice, board, sprints):
    client.force_login(alice)

    ids, content = shown(client, board, {})
    text, link = chips(content)["sprint"]

    assert ids == {sprints["in_active"].pk}
    assert text == "Sprint: Now (current)"
    assert link == f"/b/{board.pk}/?sprint=all"
    every, after = shown(client, board, dict(query(link)))
    assert every == {sprints["in_active"].pk, sprints["in_planned"].pk, sprints["backlog"].pk}
    assert '<option value="all" selected>All sprints</option>' in after
    assert "sprint" not in chips(after)


@pytest.mark.django_db
def test_links_leave_the_default_sprint_out_of_the_url(client, alice, board, sprints):
    client.force_login(alice)

    _, content = shown(client, board, {"sprint": str(sprints["active"].pk), "blocked": "true"})

    assert chips(content)["blocked"][1] == f"/b/{board.pk}/"  # the active sprint is the default: no parameter
    assert clear_all(content) == f"/b/{board.pk}/?sprint=all"  # as "Clear" always did: every card, no lanes


@pytest.mark.django_db
def test_the_empty_sprint_parameter_of_older_links_still_means_every_sprint(client, alice, board, sprints):
    client.force_login(alice)

    ids, content = shown(client, board, {"sprint": ""})

    assert len(ids) == 3
    assert '<option value="all" selected>All sprints</option>' in content


@pytest.mark.django_db
def test_the_poll_and_the_column_pages_of_a_board_showing_every_sprint_show_every_sprint(
    client, alice, board, sprints
):
    client.force_login(alice)
    column = sprints["in_planned"].column_id

    _, content = shown(client, board, {"sprint": "all"})
    poll = client.get(f"/b/{board.pk}/poll/", {"v": "0", "sprint": "all"}).json()
    more = client.get(f"/b/{board.pk}/columns/{column}/more/", {"sprint": "all"}).content.decode()

    assert 'data-qs="sprint=all"' in content
    assert {card["id"] for card in poll["cards"]} == {s.pk for s in (sprints["in_active"], sprints["in_planned"],
                                                                     sprints["backlog"])}
    assert card_ids(more) == {sprints["in_active"].pk, sprints["in_planned"].pk, sprints["backlog"].pk}


# --- hostile values --------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"assignee": "nobody-here"},
    {"assignee": "<script>alert(1)</script>"},
    {"blocked": "maybe"},
    {"blocked": "\x00"},
    {"q": "a\x00b"},
    {"label": "\x00"},
    {"epic": "١"},  # an Arabic-Indic one: a digit to Python, not an id to a URL
    {"epic": "²"},
    {"epic": "9" * 30},
    {"sprint": "١"},
    {"sprint": "<b>x</b>"},
    {"kind": "saga", "lanes": "planet"},
    {"assignee": "y" * 300, "q": "z" * 5000},
])
def test_hostile_filter_values_answer_200_with_escaped_chips(client, alice, board, cards, params):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/", params)

    assert response.status_code == 200
    content = response.content.decode()
    assert "<script>alert(1)" not in content and "<b>x</b>" not in content
    for _, link in chips(content).values():
        assert "\x00" not in link and all(value for _, value in query(link))


@pytest.mark.django_db
def test_an_unknown_assignee_is_a_chip_as_typed_and_matches_nothing(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {"assignee": "nobody-here"})

    assert ids == set()
    assert chips(content)["assignee"] == ("Assignee: nobody-here", f"/b/{board.pk}/")


@pytest.mark.django_db
def test_a_blocked_value_other_than_true_or_false_filters_nothing_and_is_no_chip(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {"blocked": "maybe"})

    assert len(ids) == 4
    assert "blocked" not in chips(content)
    assert not blocked_box_checked(content)


@pytest.mark.django_db
def test_blocked_false_typed_in_the_url_shows_as_a_not_blocked_chip(client, alice, board, cards):
    client.force_login(alice)

    ids, content = shown(client, board, {"blocked": "false"})

    assert ids == {cards["nlp"].pk, cards["plain"].pk}
    assert chips(content)["blocked"] == ("Not blocked", f"/b/{board.pk}/")
