"""The card as HTML, built in Python.

A board page shows up to 1,000 cards (200 per column); through an included
template each card cost about 0.6 ms (URL reversing, variable lookups,
localisation), which made the page miss its 120 ms budget several times over.
This builds the same markup with plain string formatting, escaping every
value that comes from users. The board page, "load more", the poll answer and
the move answer all use it, so a card looks the same wherever it comes from.
"""

from __future__ import annotations

from html import escape  # the stdlib one: Django's wraps it for lazy strings, slower per call

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from .models import Hypothesis, Ticket

KIND_LABELS = dict(Ticket.Kind.choices)
HYPOTHESIS_MARKS = {"open": "?", "supported": "✓", "refuted": "✗", "inconclusive": "~"}
HYPOTHESIS_LABELS = dict(Hypothesis.Status.choices)
_NUMBER_SLOT = 987654321
# Avatar colours (.av-0 … .av-11 in app.css), each dark enough for white
# initials (WCAG AA). A person keeps one colour on every card and every page.
AVATAR_COLOURS = 12


class CardRenderer:
    """Renders cards of one board; caches what is the same for every card."""

    def __init__(self, board, lookups, *, can_edit: bool, now=None):
        self.board_key = escape(board.key)
        self.can_edit = can_edit
        self.now = now or timezone.now()
        self.tz = timezone.get_current_timezone()
        self.url = reverse("board:ticket", args=[board.pk, _NUMBER_SLOT]).replace(str(_NUMBER_SLOT), "{}")
        self._people: dict[int, str] = {}
        self.people, self.epics, self.live = lookups.people, lookups.epics, lookups.live
        # Labels show in name order; label markup is the same on every card.
        self.label_html = {
            pk: (label.name.lower(),
                 f'<span class="label" style="--c: {escape(label.color)}">{escape(label.name)}</span>')
            for pk, label in lookups.labels.items()
        }

    def _person(self, user) -> str:
        """The avatar of a user (initials in their colour), once per user."""
        if user.pk not in self._people:
            full = user.get_full_name() or user.get_username()
            parts = (user.get_full_name() or "").split()
            initials = (parts[0][0] + parts[-1][0]) if len(parts) >= 2 else user.get_username()[:2]
            self._people[user.pk] = (
                f'<span class="avatar av-{int(user.pk) % AVATAR_COLOURS}" title="{escape(full)}">'
                f"{escape(initials.upper())}</span>"
            )
        return self._people[user.pk]

    def _age(self, card) -> str:
        seconds = max(0, int((self.now - card.entered_column_at).total_seconds()))
        if seconds >= 86400:
            return f"{seconds // 86400}d"
        if seconds >= 3600:
            return f"{seconds // 3600}h"
        return f"{seconds // 60}m"

    def live_strip(self, ticket_id: int) -> str:
        """Queued and running jobs of a card: a progress bar and the latest metric."""
        rows = []
        for job in self.live.get(ticket_id, ()):
            percent = max(0, min(100, round(job.progress * 100)))
            if job.state == "queued":
                text = f"run {int(job.run_id)} queued"
            else:
                text = f"run {int(job.run_id)} · {percent}%"
                if job.metric and job.value is not None:
                    text += f" · {escape(job.metric)} {job.value:.4g}"
            title = escape(job.message or text)
            # Out of the tab order: a card is one tab stop (its title); the
            # run is a click away in the card.
            rows.append(
                f'<a class="job-strip job-{escape(job.state)}" href="{escape(job.url)}" title="{title}" tabindex="-1" '
                f'data-run="{int(job.run_id)}"><progress max="100" value="{percent}" '
                f'aria-label="run {int(job.run_id)} progress"></progress><span>{text}</span></a>'
            )
        return f'<div class="card-live" data-live="{int(ticket_id)}">{"".join(rows)}</div>' if rows else ""

    def live_strips(self) -> dict[int, str]:
        return {ticket_id: self.live_strip(ticket_id) for ticket_id in self.live}

    def _results(self, card) -> str:
        """What finished runs wrote onto the card: hypotheses and a failed last run."""
        results = card.results or {}
        badges = []
        for h in results.get("hypotheses") or ():
            status = str(h.get("status", "open"))
            best, target = h.get("best"), h.get("target")
            value = f" {best:.3g}/{target:.3g}" if isinstance(best, int | float) and isinstance(target, int | float) \
                else ""
            title = f"Hypothesis {HYPOTHESIS_LABELS.get(status, status).lower()}: {h.get('metric', '')}"
            if value:
                title += f" best {best:.4g} against target {target:.4g}"
            badges.append(
                f'<span class="hyp hyp-{escape(status)}" title="{escape(title)}">'
                f'H{HYPOTHESIS_MARKS.get(status, "?")}{escape(value)}</span>'
            )
        last = results.get("last") or {}
        if last.get("state") in ("failed", "timed_out", "lost"):
            why = escape(f"{last.get('label', 'run')} {last['state'].replace('_', ' ')}: {last.get('error', '')}")
            badges.append(f'<span class="flag flag-failed" title="{why}">Run failed</span>')
        return f'<div class="card-results">{"".join(badges)}</div>' if badges else ""

    def _classes(self, card, overdue: bool) -> str:
        return (f"card card-{escape(card.kind)}" + (" is-blocked" if card.blocked else "")
                + (" is-overdue" if overdue else ""))

    def _open_tag(self, card, key: str, classes: str) -> str:
        return (f'<li class="{classes}" id="card-{int(card.pk)}" data-id="{int(card.pk)}" '
                f'data-version="{int(card.version)}" '
                f'data-rank="{escape(card.rank)}" data-column="{int(card.column_id)}" data-key="{key}">')

    def _bottom(self, card, key: str, overdue: bool) -> str:
        """Flags, the time in the column, the avatar and the move button: what
        a move can change, besides the card's place and version."""
        flags = ""
        if card.blocked:
            flags += f'<span class="flag flag-blocked" title="Blocked: {escape(card.blocked_reason)}">Blocked</span>'
        if overdue:
            flags += (f'<span class="flag flag-overdue" title="In progress longer than its '
                      f'{int(card.timebox_days)}-day timebox">Over timebox</span>')
        since = card.entered_column_at.astimezone(self.tz).strftime("%b %d, %H:%M")
        assignee = self.people.get(card.assignee_id)
        avatar = self._person(assignee) if assignee is not None else ""
        # One tab stop per card, the title: the move button is for pointers;
        # from the keyboard, M on the focused card opens the same menu (board.js).
        move = (f'<button type="button" class="card-move" tabindex="-1" aria-haspopup="menu" aria-label="Move {key}" '
                'title="Move (M on a focused card)">⇅</button>') if self.can_edit else ""
        return (f'<div class="card-bottom">{flags}'
                f'<span class="age" title="In this column since {since}">{self._age(card)}</span>'
                f'<span class="card-end">{avatar}{move}</span></div>')

    def render(self, card) -> SafeString:
        key = f"{self.board_key}-{int(card.number)}"
        url = escape(self.url.format(int(card.number)))
        overdue = card.timebox_exceeded(self.now)
        kind = escape(card.kind)  # a choice, checked by the database too; escaped all the same
        kind_label = escape(KIND_LABELS.get(card.kind, card.kind))
        points = (f'<span class="points" title="Story points">{int(card.points)}</span>'
                  if card.points is not None else "")
        tags = []
        epic = self.epics.get(card.epic_id)
        if epic is not None:
            tags.append(f'<span class="epic" style="--c: {escape(epic.color)}">{escape(epic.name)}</span>')
        if card.label_ids:
            tags.extend(html for _, html in sorted(self.label_html[i] for i in card.label_ids if i in self.label_html))
        labels = f'<div class="card-labels">{"".join(tags)}</div>' if tags else ""
        shortcut = ' aria-keyshortcuts="M"' if self.can_edit else ""
        return mark_safe(
            f"{self._open_tag(card, key, self._classes(card, overdue))}"
            f'<div class="card-top"><span class="kind kind-{kind}">{kind_label}</span>'
            f'<span class="card-key">{key}</span>{points}</div>'
            f'<a class="card-title" href="{url}" hx-get="{url}" hx-target="#modal"{shortcut}>{escape(card.title)}</a>'
            f"{labels}{self._results(card)}{self.live_strip(card.pk)}"
            f"{self._bottom(card, key, overdue)}</li>"
        )

    def render_moved(self, card) -> SafeString:
        """What the move answer carries: the card's element with its new place
        and version, and its bottom row. The client keeps the rest of the card
        (a move changes neither its labels nor its runs), so the answer needs
        no lookups; the poll that follows re-renders the card in full."""
        key = f"{self.board_key}-{int(card.number)}"
        overdue = card.timebox_exceeded(self.now)
        return mark_safe(f"{self._open_tag(card, key, self._classes(card, overdue))}"
                         f"{self._bottom(card, key, overdue)}</li>")

    def render_many(self, cards) -> SafeString:
        return mark_safe("".join(self.render(card) for card in cards))
