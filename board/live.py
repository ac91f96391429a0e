"""What the board shows of work running elsewhere, without importing it.

`board` never imports `experiments`. A card with a queued or running
training job shows a progress strip; the board asks for those strips through
this interface, and the experiments app registers the provider from its
AppConfig.ready(). With no provider registered, cards show no strips.

Progress ticks bump `BoardPulse` (services.results.pulse), not the board's
version: the poll compares both in its one query, and when only the pulse
moved it answers with the strips alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse


@dataclass(frozen=True)
class LiveJob:
    """One queued or running job on a card, as the card shows it."""

    ticket_id: int
    run_id: int
    state: str  # queued or running
    progress: float  # 0..1
    message: str = ""
    metric: str = ""  # the latest metric logged, e.g. "val_accuracy"
    value: float | None = None
    url: str = ""


class LiveJobs(Protocol):
    def for_board(self, board_id: int) -> list[LiveJob]:
        """Queued and running jobs of a board's tickets, in one query."""


_provider: LiveJobs | None = None


def register(provider: LiveJobs) -> None:
    global _provider
    _provider = provider


def jobs_by_ticket(board_id: int) -> dict[int, list[LiveJob]]:
    if _provider is None:
        return {}
    found: dict[int, list[LiveJob]] = {}
    for job in _provider.for_board(board_id):
        found.setdefault(job.ticket_id, []).append(job)
    return found


@dataclass(frozen=True)
class TicketSection:
    """A section of the ticket modal that another app serves (loaded by htmx
    from `url_name`, which takes the board id and the ticket number)."""

    slug: str
    title: str
    url_name: str


@dataclass(frozen=True)
class SectionLink:
    slug: str
    title: str
    url: str


_sections: dict[str, TicketSection] = {}


def register_ticket_section(section: TicketSection) -> None:
    _sections[section.slug] = section


def ticket_sections(board_id: int, number: int) -> list[SectionLink]:
    return [SectionLink(s.slug, s.title, reverse(s.url_name, args=[board_id, number])) for s in _sections.values()]
