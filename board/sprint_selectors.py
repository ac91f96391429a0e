"""Reads for the sprint pages: the list, a sprint, planning. Each runs a
fixed number of queries whatever the number of sprints and cards."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from .models import Board, Column, Sprint, Ticket

VELOCITY_SPRINTS = 3
LIST_FIELDS = ("id", "number", "title", "kind", "points", "assignee", "column", "sprint", "blocked", "version")


@dataclass
class Velocity:
    mean: float | None  # None: no closed sprint yet
    sprints: list  # the closed sprints it averages, newest first

    @property
    def text(self) -> str:
        if self.mean is None:
            return "no closed sprints yet"
        n = len(self.sprints)
        return f"{self.mean:g} points a sprint (mean of the last {n} closed sprint{'s' if n != 1 else ''})"


def closed_sprints(board: Board, *, last: int) -> list[Sprint]:
    """The board's last `last` closed sprints, newest first (one query), without
    their stored chart series (large, and read only by the burndown)."""
    return list(Sprint.objects.filter(board=board, state=Sprint.State.CLOSED).defer("series")
                .order_by("-end", "-id")[:last])


def velocity(board: Board) -> Velocity:
    """Mean completed points of the last three closed sprints, as recorded at
    their close (one query; board.charts.velocity also reads the history). A
    sprint closed without a recorded figure (imported, or from before figures
    were recorded) is left out of the mean rather than counted as zero."""
    closed = closed_sprints(board, last=VELOCITY_SPRINTS)
    recorded = [s for s in closed if s.completed_points is not None]
    if not recorded:
        return Velocity(None, [])
    mean = sum(s.completed_points for s in recorded) / len(recorded)
    return Velocity(round(mean, 1), recorded)


def sprint_list(board: Board) -> dict:
    """The board's sprints by state, each with its open card count and points (one query)."""
    on_board = Q(tickets__archived_at__isnull=True)
    sprints = list(
        Sprint.objects.filter(board=board)
        .annotate(n_cards=Count("tickets", filter=on_board), n_points=Sum("tickets__points", filter=on_board))
        .order_by("start", "id")
    )
    return {
        "active": [s for s in sprints if s.state == Sprint.State.ACTIVE],
        "planned": [s for s in sprints if s.state == Sprint.State.PLANNED],
        "closed": [s for s in sprints if s.state == Sprint.State.CLOSED][::-1],
    }


def sprint_get(board: Board, sprint_id) -> Sprint:
    """A sprint of this board, or Sprint.DoesNotExist."""
    return Sprint.objects.get(pk=sprint_id, board=board)


def _cards(queryset) -> list:
    return list(queryset.select_related("assignee", "column").only(
        *LIST_FIELDS, "assignee__username", "assignee__first_name", "assignee__last_name",
        "column__name", "column__category", "column__position",
    ).order_by("column__position", "rank"))


@dataclass
class CategoryGroup:
    category: str
    label: str
    cards: list

    @property
    def points(self) -> int:
        return sum(card.points or 0 for card in self.cards)


def sprint_cards_by_category(sprint: Sprint) -> list[CategoryGroup]:
    """The sprint's cards on the board, grouped by their column's stage (one query)."""
    cards = _cards(Ticket.objects.filter(sprint=sprint, archived_at__isnull=True))
    return [
        CategoryGroup(value, label, [c for c in cards if c.column.category == value])
        for value, label in Column.Category.choices
    ]


@dataclass
class Planning:
    backlog: list
    planned: list
    velocity: Velocity

    @property
    def planned_points(self) -> int:
        return sum(card.points or 0 for card in self.planned)

    @property
    def backlog_points(self) -> int:
        return sum(card.points or 0 for card in self.backlog)


def planning(board: Board, sprint: Sprint) -> Planning:
    """Backlog cards (no sprint, not done, not archived) and the sprint's
    cards, with the team's recent velocity (three queries)."""
    backlog = _cards(
        Ticket.objects.filter(board=board, sprint__isnull=True, archived_at__isnull=True)
        .exclude(column__category=Column.Category.DONE)
    )
    planned = _cards(Ticket.objects.filter(sprint=sprint, archived_at__isnull=True))
    return Planning(backlog=backlog, planned=planned, velocity=velocity(board))
