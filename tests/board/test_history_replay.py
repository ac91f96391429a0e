"""A ticket's history is complete: replaying its TicketEvents rebuilds it.

Also: edits record one event per changed field (none for a no-op edit), with
readable displays, and the history shown to people folds creation values
into the "created" line.
"""

import dataclasses
import random
from datetime import date

import pytest

from board import selectors, services
from board.models import Column, Ticket, TicketEvent
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

REPLAYED_FIELDS = (
    "column", "title", "description", "kind", "points", "assignee", "labels", "epic", "sprint",
    "blocked", "blocked_reason", "timebox_days",
)
WORDS = ("Tune", "learning", "rate", "baseline", "ablation", "tokenizer", "eval", "GPU", "drift", "sweep")


def text(value):
    """A value as events store it: str(), with None for empty."""
    return None if value is None or value == "" else str(value)


def live_state(ticket_id):
    """The live ticket, in the text form events use."""
    t = Ticket.objects.get(pk=ticket_id)
    labels = sorted(t.labels.values_list("pk", flat=True))
    return {
        "column": text(t.column_id),
        "title": text(t.title),
        "description": text(t.description),
        "kind": text(t.kind),
        "points": text(t.points),
        "assignee": text(t.assignee_id),
        "labels": text(",".join(str(pk) for pk in labels)),
        "epic": text(t.epic_id),
        "sprint": text(t.sprint_id),
        "blocked": text(t.blocked),
        "blocked_reason": text(t.blocked_reason),
        "timebox_days": text(t.timebox_days),
    }


def replayed_state(ticket_id):
    state = selectors.ticket_state_from_events(ticket_id)
    return {field: text(state.get(field)) for field in REPLAYED_FIELDS}


def input_of(ticket) -> services.TicketInput:
    """The form a person would see for the ticket, unchanged."""
    t = Ticket.objects.select_related("assignee", "epic", "sprint").get(pk=ticket.pk)
    return services.TicketInput(
        title=t.title, description=t.description, kind=t.kind, points=t.points, assignee=t.assignee,
        labels=tuple(t.labels.all()), epic=t.epic, sprint=t.sprint, timebox_days=t.timebox_days,
        blocked=t.blocked, blocked_reason=t.blocked_reason,
    )


def update(board, actor, ticket, data):
    ticket.refresh_from_db()
    return services.ticket_update(ticket_id=ticket.pk, board=board, actor=actor,
                                  expected_version=ticket.version, data=data)


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
    """Random but reproducible operations on one board."""

    def __init__(self, rng, board, people, catalogue):
        self.rng, self.board, self.people, self.catalogue = rng, board, people, catalogue
        self.tickets = []
        self.column_deleted = False

    def columns(self):
        return list(Column.objects.filter(board=self.board).order_by("position", "id"))

    def random_title(self):
        words = " ".join(self.rng.sample(WORDS, k=self.rng.randint(1, 4)))
        # sometimes with stray spaces, which the service strips
        return self.rng.choice(["", "  ", " "]) + words + self.rng.choice(["", " "])

    def randomise(self, data, fields):
        rng, cat = self.rng, self.catalogue
        for field in fields:
            if field == "title":
                data.title = self.random_title()
            elif field == "description":
                data.description = rng.choice(["", "Compare against the v2 baseline.", "x" * 130])
            elif field == "points":
                data.points = rng.choice([None, 0, 1, 2, 3, 5, 8, 13])
            elif field == "assignee":
                data.assignee = rng.choice([None, *self.people])
            elif field == "labels":
                data.labels = tuple(rng.sample(cat["labels"], k=rng.randint(0, len(cat["labels"]))))
            elif field == "epic":
                data.epic = rng.choice([None, *cat["epics"]])
            elif field == "sprint":
                data.sprint = rng.choice([None, *cat["sprints"]])
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
        ticket = self.rng.choice(self.tickets)
        fields = self.rng.sample(services.TRACKED_FIELDS, k=self.rng.randint(1, 4))
        data = self.randomise(input_of(ticket), fields)
        update(self.board, self.rng.choice(self.people), ticket, data)

    def move(self):
        ticket = self.rng.choice(self.tickets)
        ticket.refresh_from_db()
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
        ticket = self.rng.choice(self.tickets)
        services.comment_add(board=self.board, ticket_id=ticket.pk, author=self.rng.choice(self.people),
                             body=f"Tried {self.rng.choice(WORDS)}; see run {self.rng.randint(1, 999)}.")

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
        self.column_deleted = True

    def run(self, steps):
        for _ in range(5):
            self.create()
        for step in range(steps):
            if step == steps // 2:
                self.delete_a_column()
                continue
            operation = self.rng.choices(
                [self.create, self.edit, self.move, self.comment], weights=[2, 6, 4, 1]
            )[0]
            operation()


@pytest.mark.parametrize("seed", [7, 2026, 31337])
def test_replaying_the_events_rebuilds_every_ticket(board, alice, bob, catalogue, seed):
    scenario = Scenario(random.Random(seed), board, [alice, bob], catalogue)
    scenario.run(steps=150)
    assert scenario.column_deleted
    assert len(scenario.tickets) > 10
    # every replayed field was changed after creation at least once
    events = TicketEvent.objects.filter(ticket__board=board)
    creations = set(events.filter(field="created").values_list("board_version", flat=True))
    changed = set(events.exclude(board_version__in=creations).values_list("field", flat=True))
    assert changed >= set(REPLAYED_FIELDS)
    for ticket in scenario.tickets:
        assert replayed_state(ticket.pk) == live_state(ticket.pk), f"ticket {ticket.pk} (seed {seed})"


def test_replay_after_clearing_every_field(board, alice, bob, catalogue):
    gpu, data = catalogue["labels"][:2]
    ticket = make_ticket(
        board, alice, title="Label noise audit", description="Look at 1% of the set.", kind=Ticket.Kind.RESEARCH,
        points=5, assignee=bob, labels=(gpu, data), epic=catalogue["epics"][0], sprint=catalogue["sprints"][0],
        timebox_days=2, blocked=True, blocked_reason="Dataset licence",
    )
    update(board, alice, ticket, services.TicketInput(title="Label noise audit"))
    assert replayed_state(ticket.pk) == live_state(ticket.pk)
    assert live_state(ticket.pk)["labels"] is None and live_state(ticket.pk)["assignee"] is None


def test_replay_follows_cards_moved_by_a_column_deletion(board, alice, columns):
    backlog, whiteboarding, *_ , done = columns
    a = make_ticket(board, alice, title="A", column=whiteboarding)
    b = make_ticket(board, alice, title="B", column=whiteboarding)
    services.column_delete(board=board, column_id=whiteboarding.pk, actor=alice, move_to_id=done.pk)
    for ticket in (a, b):
        assert replayed_state(ticket.pk)["column"] == str(done.pk) == live_state(ticket.pk)["column"]
    event = TicketEvent.objects.filter(ticket=a).latest("id")
    assert (event.field, event.old_display, event.new_display) == ("column", "Whiteboarding", "Done")


def test_replay_follows_labels_removed_by_deleting_the_label(board, alice, catalogue):
    gpu, data = catalogue["labels"][:2]
    ticket = make_ticket(board, alice, title="Label noise audit", labels=(gpu, data))
    services.label_delete(board=board, label_id=gpu.pk, actor=alice)
    assert replayed_state(ticket.pk)["labels"] == str(data.pk) == live_state(ticket.pk)["labels"]
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.field, event.actor) == ("labels", alice)


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


def test_each_changed_field_records_one_event_with_old_and_new_values(board, alice, bob, catalogue):
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

    events = list(TicketEvent.objects.filter(ticket=ticket, pk__gt=first_event))
    by_field = {e.field: e for e in events}
    assert len(events) == len(by_field) == len(services.TRACKED_FIELDS)  # one per field
    ticket.refresh_from_db()
    assert {e.board_version for e in events} == {ticket.board_version}
    assert {e.actor for e in events} == {alice}

    labels_in_pk_order = sorted([gpu, data], key=lambda lb: lb.pk)
    expected = {
        # field: (old, new, old_display, new_display)
        "title": ("Train baseline", "Train baseline v2", "Train baseline", "Train baseline v2"),
        "description": (None, "Use the cleaned set.", "—", "Use the cleaned set."),
        "kind": ("story", "experiment", "Story", "Experiment"),
        "points": (None, "5", "—", "5"),
        "assignee": (None, str(bob.pk), "—", "bob"),
        "labels": (None, ",".join(str(lb.pk) for lb in labels_in_pk_order), "—",
                   ", ".join(lb.name for lb in labels_in_pk_order)),
        "epic": (None, str(epic.pk), "—", "Retrieval"),
        "sprint": (None, str(sprint.pk), "—", "Sprint 1"),
        "timebox_days": ("3", "5", "3", "5"),
        "blocked": ("False", "True", "no", "yes"),
        "blocked_reason": (None, "GPU quota", "—", "GPU quota"),
    }
    for field, (old, new, old_display, new_display) in expected.items():
        e = by_field[field]
        assert (text(e.old), text(e.new), e.old_display, e.new_display) == (old, new, old_display, new_display), field


def test_clearing_fields_records_old_values_and_dashes(board, alice, bob, catalogue):
    gpu = catalogue["labels"][0]
    ticket = make_ticket(board, alice, title="Distil to 7B", points=8, assignee=bob, labels=(gpu,),
                         blocked=True, blocked_reason="Teacher checkpoint")
    before = TicketEvent.objects.latest("id").pk
    update(board, bob, ticket, services.TicketInput(title="Distil to 7B"))
    by_field = {e.field: e for e in TicketEvent.objects.filter(ticket=ticket, pk__gt=before)}
    assert set(by_field) == {"points", "assignee", "labels", "blocked", "blocked_reason"}
    assert (by_field["points"].old, by_field["points"].new_display) == ("8", "—")
    assert (by_field["assignee"].old_display, by_field["assignee"].new_display) == ("bob", "—")
    assert (by_field["labels"].old, text(by_field["labels"].new), by_field["labels"].new_display) == (str(gpu.pk), None, "—")
    assert (by_field["blocked"].old_display, by_field["blocked"].new_display) == ("yes", "no")
    assert (by_field["blocked_reason"].old, text(by_field["blocked_reason"].new)) == ("Teacher checkpoint", None)
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
    assert {"points: 3", "assignee: bob", "labels: gpu", "kind: Bug", "epic: Retrieval"} <= set(created.details)
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
    assert (change.field, change.old, change.new, change.actor) == ("points", "3", "5", bob)
    assert (column.old, column.new, column.actor) == ("Backlog", "Whiteboarding", bob)
    assert created.details and "points: 3" in created.details
