"""A ticket's history is complete: replaying its TicketEvents rebuilds it.

Replay (selectors.replay) reads nothing but the events, in board-version
order, and must give back every field, the labels, the column and its
category, the rank and the flow times (entered_column_at, started_at,
done_at), whatever happened: edits from the board, the API and the admin,
moves, archive and restore, hard deletes, deleting sprints, epics, labels,
columns and members, and re-categorising columns. Also: edits record one
typed event per changed field (none for a no-op edit), with readable
displays, and the history people read folds creation values into its
"created" line.
"""

import dataclasses
import random
from datetime import date

import pytest

from board import selectors, services
from board.models import Column, Label, Membership, Ticket, TicketEvent
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

WORDS = ("Tune", "learning", "rate", "baseline", "ablation", "tokenizer", "eval", "GPU", "drift", "sweep")


def live_state(ticket_id):
    """The live ticket, in the typed form events use."""
    t = Ticket.objects.select_related("column").get(pk=ticket_id)
    return {
        "column": t.column_id, "category": t.column.category, "rank": t.rank,
        "title": t.title, "description": t.description, "kind": t.kind, "points": t.points,
        "assignee": t.assignee_id, "labels": set(t.labels.values_list("pk", flat=True)), "epic": t.epic_id,
        "sprint": t.sprint_id, "blocked": t.blocked, "blocked_reason": t.blocked_reason,
        "timebox_days": t.timebox_days, "entered_column_at": t.entered_column_at, "started_at": t.started_at,
        "done_at": t.done_at, "archived": t.archived_at is not None, "deleted": False,
    }


def replayed_state(ticket_id):
    state = selectors.ticket_replay(ticket_id)
    return {field: state.get(field) for field in live_state_fields()}


def live_state_fields():
    return ("column", "category", "rank", "title", "description", "kind", "points", "assignee", "labels", "epic",
            "sprint", "blocked", "blocked_reason", "timebox_days", "entered_column_at", "started_at", "done_at",
            "archived", "deleted")


def update(board, actor, ticket, data):
    ticket.refresh_from_db()
    return services.ticket_update(ticket_id=ticket.pk, board=board, actor=actor,
                                  expected_version=ticket.version, data=data)


def input_of(ticket):
    return services.TicketInput.from_ticket(Ticket.objects.get(pk=ticket.pk))


@pytest.fixture
def catalogue(board):
    """Labels, epics and sprints to pick from."""
    return {
        "labels": [services.label_create(board=board, name=n) for n in ("gpu", "data", "infra", "paper")],
        "epics": [services.epic_create(board=board, name=n) for n in ("Retrieval", "Distillation")],
        "sprints": [
            services.sprint_create(board=board, name="Sprint 1", start=date(2026, 11, 2), end=date(2026, 11, 13)),
            services.sprint_create(board=board, name="Sprint 2", start=date(2026, 11, 16), end=date(2026, 11, 27)),
        ],
    }


# --- random histories ---------------------------------------------------------

class Scenario:
    """Random but reproducible operations on one board, from every entry point."""

    def __init__(self, rng, board, people, catalogue, admin_client):
        self.rng, self.board, self.people, self.catalogue = rng, board, people, catalogue
        self.admin_client = admin_client
        self.tickets = []
        self.deleted = {}  # ticket id -> its live state just before the hard delete
        self.done = set()

    def columns(self):
        return list(Column.objects.filter(board=self.board).order_by("position", "id"))

    def live(self):
        return [t for t in self.tickets if t.pk not in self.deleted]

    def random_title(self):
        words = " ".join(self.rng.sample(WORDS, k=self.rng.randint(1, 4)))
        # sometimes with stray spaces, which the service strips
        return self.rng.choice(["", "  ", " "]) + words + self.rng.choice(["", " "])

    def pick(self, name):
        """One of a catalogue's items that still exists, or None."""
        items = [item for item in self.catalogue[name] if type(item).objects.filter(pk=item.pk).exists()]
        return self.rng.choice([None, *items])

    def randomise(self, data, fields):
        rng = self.rng
        for field in fields:
            if field == "title":
                data.title = self.random_title()
            elif field == "description":
                data.description = rng.choice(["", "Compare against the v2 baseline.", "x" * 130])
            elif field == "points":
                data.points = rng.choice([None, 0, 1, 2, 3, 5, 8, 13])
            elif field == "assignee":
                members = [p for p in self.people if Membership.objects.filter(board=self.board, user=p).exists()]
                data.assignee = rng.choice([None, *members])
            elif field == "labels":
                labels = list(Label.objects.filter(board=self.board))
                data.labels = tuple(rng.sample(labels, k=rng.randint(0, len(labels))))
            elif field in ("epic", "sprint"):
                setattr(data, field, self.pick(field + "s"))
            elif field == "kind":
                data.kind = rng.choice(Ticket.Kind.values)
            elif field == "timebox_days":
                data.timebox_days = rng.randint(1, 10)
            elif field == "blocked":
                data.blocked = rng.random() < 0.5
                data.blocked_reason = (
                    rng.choice(["Waiting for GPU quota", "Dataset licence", "Needs review"]) if data.blocked else ""
                )
        return data

    def create(self):
        fields = self.rng.sample(services.TRACKED_FIELDS, k=self.rng.randint(0, len(services.TRACKED_FIELDS)))
        data = self.randomise(services.TicketInput(title="New card"), ["title", *fields])
        column = self.rng.choice(self.columns())
        actor = self.rng.choice(self.people)
        self.tickets.append(services.ticket_create(board=self.board, actor=actor, data=data, column=column))

    def edit(self):
        ticket = self.rng.choice(self.live())
        fields = self.rng.sample(services.TRACKED_FIELDS, k=self.rng.randint(1, 4))
        data = self.randomise(input_of(ticket), fields)
        update(self.board, self.rng.choice(self.people), ticket, data)

    def api_patch(self):
        """A partial update as the API makes it: some fields, a system writer."""
        ticket = self.rng.choice(self.live())
        data = self.randomise(input_of(ticket), self.rng.sample(services.TRACKED_FIELDS, k=2))
        changes = {name: getattr(data, name) for name in self.rng.sample(services.TRACKED_FIELDS, k=2)}
        if "blocked" in changes or "blocked_reason" in changes:
            changes.update(blocked=data.blocked, blocked_reason=data.blocked_reason)
        services.ticket_patch(board=self.board, ticket_id=ticket.pk, changes=changes,
                              actor=services.Writer(self.rng.choice(self.people), "api"))

    def admin_edit(self):
        """An edit through the Django admin's change form."""
        ticket = Ticket.objects.get(pk=self.rng.choice(self.live()).pk)
        data = self.randomise(input_of(ticket), self.rng.sample(("title", "points", "labels", "blocked"), k=2))
        form = {
            "title": data.title.strip() or "Untitled", "description": data.description, "kind": data.kind,
            "points": "" if data.points is None else data.points,
            "assignee": ticket.assignee_id or "", "labels": [label.pk for label in data.labels],
            "epic": ticket.epic_id or "", "sprint": ticket.sprint_id or "", "timebox_days": data.timebox_days,
            "blocked_reason": data.blocked_reason,
            "comments-TOTAL_FORMS": 0, "comments-INITIAL_FORMS": 0, "_save": "Save",
        }
        if data.blocked:
            form["blocked"] = "on"
        response = self.admin_client.post(f"/admin/board/ticket/{ticket.pk}/change/", form)
        assert response.status_code == 302, response.content.decode()[:2000]

    def move(self):
        ticket = self.rng.choice(self.live())
        ticket.refresh_from_db()
        if ticket.archived_at is not None:
            return self.restore(ticket)
        target = self.rng.choice(self.columns())
        others = list(Ticket.objects.filter(column=target).exclude(pk=ticket.pk).order_by("rank"))
        anchors = {}
        choice = self.rng.random()
        if choice < 0.3 and others:
            anchors["after_id"] = self.rng.choice(others).pk
        elif choice < 0.5 and others:
            anchors["before_id"] = self.rng.choice(others).pk
        elif choice < 0.7:
            anchors["position"] = self.rng.choice(["top", "bottom"])
        elif choice < 0.8 and target.pk == ticket.column_id:
            anchors["position"] = self.rng.choice(["up", "down"])
        services.ticket_move(board=self.board, actor=self.rng.choice(self.people), ticket_id=ticket.pk,
                             expected_version=ticket.version, to_column_id=target.pk, **anchors)

    def comment(self):
        ticket = self.rng.choice(self.live())
        services.comment_add(board=self.board, ticket_id=ticket.pk, author=self.rng.choice(self.people),
                             body=f"Tried {self.rng.choice(WORDS)}; see run {self.rng.randint(1, 999)}.")

    def archive(self):
        ticket = self.rng.choice(self.live())
        services.ticket_archive(board=self.board, ticket_id=ticket.pk, actor=self.rng.choice(self.people))

    def restore(self, ticket=None):
        ticket = ticket or self.rng.choice(self.live())
        services.ticket_restore(board=self.board, ticket_id=ticket.pk, actor=self.rng.choice(self.people))

    def hard_delete(self):
        if len(self.live()) < 6:
            return
        ticket = self.rng.choice(self.live())
        self.deleted[ticket.pk] = live_state(ticket.pk)
        key = f"{self.board.key}-{Ticket.objects.get(pk=ticket.pk).number}"
        services.ticket_delete(board=self.board, ticket_id=ticket.pk, actor=self.people[0], confirm=key)
        self.done.add("hard delete")

    def recategorise(self):
        column = self.rng.choice(self.columns())
        category = self.rng.choice([c for c in Column.Category.values if c != column.category])
        services.column_update(board=self.board, column_id=column.pk, name=column.name, wip_limit=None,
                               category=category, actor=self.people[0])
        self.done.add("recategorise")

    def delete_a_column(self):
        columns = self.columns()
        with_cards = [c for c in columns if c.tickets.exists()]
        doomed = self.rng.choice(with_cards)
        target = self.rng.choice([c for c in columns if c.pk != doomed.pk])
        moving = list(doomed.tickets.order_by("rank").values_list("pk", flat=True))
        before = list(target.tickets.order_by("rank").values_list("pk", flat=True))
        services.column_delete(board=self.board, column_id=doomed.pk, actor=self.people[0], move_to_id=target.pk)
        # its cards were appended in their order to the target
        assert list(target.tickets.order_by("rank").values_list("pk", flat=True)) == before + moving
        self.done.add("column delete")

    def delete_a_catalogue_item(self):
        """A sprint, an epic or a label goes: through the service, the admin
        or a plain .delete() in a shell (the signals catch it)."""
        kind = self.rng.choice(["sprints", "epics", "labels"])
        items = [item for item in self.catalogue[kind] if type(item).objects.filter(pk=item.pk).exists()]
        if len(items) < 2:
            return
        item = self.rng.choice(items)
        way = self.rng.choice(["service", "admin", "shell"])
        if way == "service":
            delete = {"sprints": services.sprint_delete, "epics": services.epic_delete,
                      "labels": services.label_delete}[kind]
            delete(board=self.board, actor=self.people[0], **{f"{kind[:-1]}_id": item.pk})
        elif way == "admin":
            response = self.admin_client.post(f"/admin/board/{kind[:-1]}/{item.pk}/delete/", {"post": "yes"})
            assert response.status_code == 302
        else:
            type(item).objects.get(pk=item.pk).delete()
        self.done.add(f"{kind} delete")

    def member_leaves(self):
        """Bob leaves the board (his cards keep him) and is later let back in."""
        bob = self.people[1]
        membership = Membership.objects.filter(board=self.board, user=bob).first()
        if membership is not None:
            services.membership_remove(board=self.board, membership_id=membership.pk, actor=self.people[0])
            self.done.add("member leaves")
        else:
            services.membership_grant(board=self.board, user=bob, role=Membership.Role.MEMBER)

    def run(self, steps):
        for _ in range(6):
            self.create()
        operations = {
            self.create: 2, self.edit: 5, self.api_patch: 2, self.admin_edit: 1, self.move: 4, self.comment: 1,
            self.archive: 1, self.hard_delete: 0.5, self.recategorise: 0.5, self.delete_a_catalogue_item: 0.7,
            self.member_leaves: 0.7,
        }
        for step in range(steps):
            if step == steps // 2:
                self.delete_a_column()
                continue
            operation = self.rng.choices(list(operations), weights=list(operations.values()))[0]
            operation()


@pytest.fixture
def admin_client_for(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


@pytest.mark.parametrize("seed", [7, 2026, 31337])
def test_replaying_the_events_rebuilds_every_ticket(board, alice, bob, catalogue, admin_client_for, seed):
    scenario = Scenario(random.Random(seed), board, [alice, bob], catalogue, admin_client_for)
    scenario.run(steps=160)
    assert len(scenario.tickets) > 10
    # every field was changed after creation at least once, by every kind of writer
    events = TicketEvent.objects.filter(board=board)
    creations = set(events.filter(field="created").values_list("at", flat=True))
    changed = set(events.exclude(at__in=creations).values_list("field", flat=True))
    assert changed >= {*services.TRACKED_FIELDS, "column", "archived"}
    assert set(events.values_list("source", flat=True)) >= {"person", "api", "admin"}
    assert {"column delete", "recategorise"} <= scenario.done
    for ticket in scenario.tickets:
        if ticket.pk in scenario.deleted:
            replayed = replayed_state(ticket.pk)
            assert replayed.pop("deleted") is True
            expected = scenario.deleted[ticket.pk]
            expected.pop("deleted")
            assert replayed == expected, f"deleted ticket {ticket.pk} (seed {seed})"
        else:
            assert replayed_state(ticket.pk) == live_state(ticket.pk), f"ticket {ticket.pk} (seed {seed})"


def test_board_versions_of_events_are_a_total_order_without_gaps_per_write(board, alice, bob, catalogue,
                                                                              admin_client_for):
    Scenario(random.Random(5), board, [alice, bob], catalogue, admin_client_for).run(steps=60)
    versions = list(TicketEvent.objects.filter(board=board).values_list("board_version", flat=True))
    assert len(versions) == len(set(versions))  # unique within the board (a constraint backs it)
    board.refresh_from_db()
    assert max(versions) <= board.version
    for ticket in Ticket.objects.filter(board=board):
        last = TicketEvent.objects.filter(ticket=ticket).order_by("-board_version").first()
        assert ticket.board_version >= last.board_version  # the poll sees every changed card


def test_replay_after_clearing_every_field(board, alice, bob, catalogue):
    gpu, data = catalogue["labels"][:2]
    ticket = make_ticket(
        board, alice, title="Label noise audit", description="Look at 1% of the set.", kind=Ticket.Kind.RESEARCH,
        points=5, assignee=bob, labels=(gpu, data), epic=catalogue["epics"][0], sprint=catalogue["sprints"][0],
        timebox_days=2, blocked=True, blocked_reason="Dataset licence",
    )
    update(board, alice, ticket, services.TicketInput(title="Label noise audit"))
    assert replayed_state(ticket.pk) == live_state(ticket.pk)
    assert live_state(ticket.pk)["labels"] == set() and live_state(ticket.pk)["assignee"] is None


def test_replay_follows_cards_moved_by_a_column_deletion(board, alice, columns):
    backlog, whiteboarding, *_ , done = columns
    a = make_ticket(board, alice, title="A", column=whiteboarding)
    b = make_ticket(board, alice, title="B", column=whiteboarding)
    services.column_delete(board=board, column_id=whiteboarding.pk, actor=alice, move_to_id=done.pk)
    for ticket in (a, b):
        assert replayed_state(ticket.pk) == live_state(ticket.pk)
        assert replayed_state(ticket.pk)["column"] == done.pk
        assert replayed_state(ticket.pk)["done_at"] is not None  # Done is a "done" column
    event = TicketEvent.objects.filter(ticket=a).latest("board_version")
    assert (event.field, event.old_display, event.new_display, event.category) == (
        "column", "Whiteboarding", "Done", "done")


def test_replay_follows_labels_removed_by_deleting_the_label(board, alice, catalogue):
    gpu, data = catalogue["labels"][:2]
    ticket = make_ticket(board, alice, title="Label noise audit", labels=(gpu, data))
    services.label_delete(board=board, label_id=gpu.pk, actor=alice)
    assert replayed_state(ticket.pk)["labels"] == {data.pk} == live_state(ticket.pk)["labels"]
    event = TicketEvent.objects.filter(ticket=ticket).latest("board_version")
    assert (event.field, event.old, event.new, event.old_display, event.actor) == ("labels", gpu.pk, None, "gpu", alice)


# --- what an edit records -----------------------------------------------------

def test_an_edit_that_changes_nothing_records_no_event(board, alice, bob, catalogue):
    gpu, data = catalogue["labels"][:2]
    ticket = make_ticket(board, alice, title="Sweep LR", points=3, assignee=bob, labels=(gpu, data),
                         epic=catalogue["epics"][0], sprint=catalogue["sprints"][0])
    ticket.refresh_from_db()
    events, version = TicketEvent.objects.count(), ticket.version
    board.refresh_from_db()
    board_version = board.version

    unchanged = input_of(ticket)
    # the same values: labels in another order, the title with stray spaces
    unchanged = dataclasses.replace(unchanged, labels=(data, gpu), title="  Sweep LR ")
    update(board, bob, ticket, unchanged)

    ticket.refresh_from_db()
    board.refresh_from_db()
    assert TicketEvent.objects.count() == events
    assert ticket.version == version
    assert board.version == board_version


def test_each_changed_field_records_one_typed_event_with_old_and_new_values(board, alice, bob, catalogue):
    gpu, data = catalogue["labels"][:2]
    epic, sprint = catalogue["epics"][0], catalogue["sprints"][0]
    ticket = make_ticket(board, alice, title="Train baseline")
    ticket.refresh_from_db()
    first_event = TicketEvent.objects.latest("id").pk

    update(board, alice, ticket, services.TicketInput(
        title="Train baseline v2", description="Use the cleaned set.", kind=Ticket.Kind.EXPERIMENT, points=5,
        assignee=bob, labels=(data, gpu), epic=epic, sprint=sprint, timebox_days=5,
        blocked=True, blocked_reason="GPU quota",
    ))

    events = list(TicketEvent.objects.filter(ticket=ticket, pk__gt=first_event).order_by("board_version"))
    # one event per field, and one per label added
    assert [e.field for e in events] == [*[f for f in services.TRACKED_FIELDS if f != "labels"][:5],
                                         "labels", "labels", "epic", "sprint", "timebox_days", "blocked",
                                         "blocked_reason"]
    versions = [e.board_version for e in events]
    assert versions == list(range(versions[0], versions[0] + len(events)))  # each its own, in order
    ticket.refresh_from_db()
    assert ticket.board_version == versions[-1]
    assert {(e.actor, e.source) for e in events} == {(alice, "person")}

    by_field = {e.field: e for e in events if e.field != "labels"}
    expected = {
        # field: (old, new, old_display, new_display): numbers as numbers, booleans as booleans, ids as ids
        "title": ("Train baseline", "Train baseline v2", "Train baseline", "Train baseline v2"),
        "description": ("", "Use the cleaned set.", "—", "Use the cleaned set."),
        "kind": ("story", "experiment", "Story", "Experiment"),
        "points": (None, 5, "—", "5"),
        "assignee": (None, bob.pk, "—", "Bob Member"),
        "epic": (None, epic.pk, "—", "Retrieval"),
        "sprint": (None, sprint.pk, "—", "Sprint 1"),
        "timebox_days": (3, 5, "3", "5"),
        "blocked": (False, True, "no", "yes"),
        "blocked_reason": ("", "GPU quota", "—", "GPU quota"),
    }
    for field, values in expected.items():
        e = by_field[field]
        assert (e.old, e.new, e.old_display, e.new_display) == values, field
    labels = [(e.old, e.new, e.new_display) for e in events if e.field == "labels"]
    assert labels == [(None, gpu.pk, "gpu"), (None, data.pk, "data")]  # additions, in id order


def test_clearing_fields_records_old_values_and_dashes(board, alice, bob, catalogue):
    gpu = catalogue["labels"][0]
    ticket = make_ticket(board, alice, title="Distil to 7B", points=8, assignee=bob, labels=(gpu,),
                         blocked=True, blocked_reason="Teacher checkpoint")
    before = TicketEvent.objects.latest("id").pk
    update(board, bob, ticket, services.TicketInput(title="Distil to 7B"))
    by_field = {e.field: e for e in TicketEvent.objects.filter(ticket=ticket, pk__gt=before)}
    assert set(by_field) == {"points", "assignee", "labels", "blocked", "blocked_reason"}
    assert (by_field["points"].old, by_field["points"].new, by_field["points"].new_display) == (8, None, "—")
    assert (by_field["assignee"].old_display, by_field["assignee"].new_display) == ("Bob Member", "—")
    assert (by_field["labels"].old, by_field["labels"].new, by_field["labels"].old_display) == (gpu.pk, None, "gpu")
    assert (by_field["blocked"].old_display, by_field["blocked"].new_display) == ("yes", "no")
    assert (by_field["blocked_reason"].old, by_field["blocked_reason"].new) == ("Teacher checkpoint", "")
    assert {e.actor for e in by_field.values()} == {bob}


def test_unblocking_clears_the_reason(board, alice):
    ticket = make_ticket(board, alice, title="Eval harness", blocked=True, blocked_reason="Flaky cluster")
    update(board, alice, ticket, services.TicketInput(title="Eval harness", blocked=False,
                                                      blocked_reason="Flaky cluster"))
    ticket.refresh_from_db()
    assert (ticket.blocked, ticket.blocked_reason) == (False, "")
    assert replayed_state(ticket.pk) == live_state(ticket.pk)


def test_a_stale_edit_raises_conflict_and_records_nothing(board, alice, bob):
    ticket = make_ticket(board, alice, title="Tokenizer")
    seen = ticket.version
    update(board, bob, ticket, services.TicketInput(title="Tokenizer v2"))
    events = TicketEvent.objects.count()
    with pytest.raises(services.Conflict):
        services.ticket_update(ticket_id=ticket.pk, board=board, actor=alice, expected_version=seen,
                               data=services.TicketInput(title="Tokenizer v3"))
    ticket.refresh_from_db()
    assert ticket.title == "Tokenizer v2"
    assert TicketEvent.objects.count() == events


# --- the history people read -------------------------------------------------

def test_ticket_history_folds_creation_values_into_the_created_entry(board, alice, bob, catalogue, columns):
    gpu = catalogue["labels"][0]
    ticket = make_ticket(board, alice, title="Retrieval eval", kind=Ticket.Kind.BUG, points=3, assignee=bob,
                         labels=(gpu,), epic=catalogue["epics"][0])
    history = selectors.ticket_history(ticket)
    assert len(history) == 1
    created = history[0]
    assert (created.kind, created.actor, created.new) == ("created", alice, "Backlog")
    assert {"points: 3", "assignee: Bob Member", "labels: gpu", "kind: Bug", "epic: Retrieval"} <= set(created.details)
    # defaults are not worth a mention
    assert not any(d.startswith(("blocked", "timebox", "description")) for d in created.details)


def test_ticket_history_lists_later_changes_newest_first(board, alice, bob, columns):
    backlog, whiteboarding = columns[:2]
    ticket = make_ticket(board, alice, title="Retrieval eval", points=3)
    services.ticket_move(board=board, actor=bob, ticket_id=ticket.pk, expected_version=ticket.version,
                         to_column_id=whiteboarding.pk)
    update(board, bob, ticket, services.TicketInput(title="Retrieval eval", points=5))
    services.comment_add(board=board, ticket_id=ticket.pk, author=alice, body="Looks good")

    history = selectors.ticket_history(ticket)
    assert [h.kind for h in history] == ["comment", "change", "column", "created"]
    comment, change, column, created = history
    assert (comment.actor, comment.new) == (alice, "Looks good")
    assert (change.field, change.old, change.new, change.actor, change.who) == ("points", "3", "5", bob, "Bob Member")
    assert (column.old, column.new, column.actor) == ("Backlog", "Whiteboarding", bob)
    assert created.details and "points: 3" in created.details
