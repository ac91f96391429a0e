"""The board's filter bar, read from the filters a page applied: the value of
each control, the active filters as chips (each with the link that drops
only that filter) and clean links, which carry only the parameters in use.

The controls and the chips are drawn from the same typed values, so a filter
that narrows the board always shows as set: `?blocked=true` is the Python
value True in the filter form, and a template comparing the form's value
with the string "true" showed the box unchecked (issue 6, bug 2).

No queries: names come from what board_page read already."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from .models import Sprint, Ticket
from .selectors import ALL_SPRINTS, SWIMLANES, BoardPage, TicketFilter

# The parameters in the order the bar shows its controls (and links carry them).
PARAMS = ("q", "assignee", "label", "kind", "epic", "sprint", "blocked", "lanes")
# The search shows in the bar on every screen; the others fold into the sheet on phones.
SHEET_PARAMS = ("assignee", "label", "kind", "epic", "sprint", "blocked")
SHOWN_LENGTH = 40  # of a value typed into the URL, in a chip
SEARCH_LENGTH = 200  # what TicketFilter.search reads of a search


@dataclass(frozen=True)
class Chip:
    param: str
    name: str
    value: str
    query: str  # the board's query without this filter: "" or "?…"

    @property
    def label(self) -> str:
        return f"{self.name}: {self.value}" if self.value else self.name


@dataclass(frozen=True)
class FilterBar:
    values: dict  # parameter → the value its control shows, as the URL spells it
    chips: list
    clear_query: str  # every card, no lanes: "" or "?sprint=all"
    default_sprint: str  # the active sprint's id, which the board shows without ?sprint=

    @property
    def sheet_count(self) -> int:
        """The active filters folded into the phone's sheet (its button says how many)."""
        return sum(1 for chip in self.chips if chip.param in SHEET_PARAMS)


def _text(value) -> str:
    """A filter value as the URL spells it ("" when the filter is off or invalid)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # "١" and "3.0" are read as 3 by the form: the links say 3.
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 1] + "…"


def filter_bar(filters: TicketFilter, page: BoardPage, lanes: str) -> FilterBar:
    """The bar of a board page whose filters were applied (filters.qs ran)."""
    form = filters.form
    form.is_valid()  # an invalid value is left out of cleaned_data, as the filtering leaves it out
    applied = form.cleaned_data
    active = next((s for s in page.sprints if s.state == Sprint.State.ACTIVE), None)
    default_sprint = str(active.pk) if active else ""

    values = {name: _text(applied.get(name)) for name in PARAMS if name not in ("sprint", "lanes")}
    values["q"] = values["q"][:SEARCH_LENGTH]
    # The sprint is read as the URL has it (board_params put the default in):
    # an unknown id is applied too (it matches nothing), so it shows as a chip.
    values["sprint"] = (applied.get("sprint") or "")[:SHOWN_LENGTH * 2] or ALL_SPRINTS
    values["lanes"] = lanes if lanes in SWIMLANES else ""

    def query(changes: dict) -> str:
        merged = {**values, **changes}
        sprint = merged["sprint"]
        # The default view (the active sprint, or every card without one) needs no parameter.
        if sprint == default_sprint or (sprint == ALL_SPRINTS and not default_sprint):
            merged["sprint"] = ""
        text = urlencode([(name, merged[name]) for name in PARAMS if merged[name]])
        return "?" + text if text else ""

    chips = []
    names = _names(page)
    for name in PARAMS:
        value = values[name]
        if name == "lanes" or not value or (name == "sprint" and value == ALL_SPRINTS):
            continue
        off = ALL_SPRINTS if name == "sprint" else ""
        title, shown = names(name, value)
        chips.append(Chip(param=name, name=title, value=shown, query=query({name: off})))
    clear = query({name: (ALL_SPRINTS if name == "sprint" else "") for name in PARAMS})
    return FilterBar(values=values, chips=chips, clear_query=clear, default_sprint=default_sprint)


def _names(page: BoardPage):
    """How a chip names a filter and its value: people, labels, epics and
    sprints by their names; a value matching nothing on the board as typed."""
    people = {m.user.get_username(): m.user.get_full_name() or m.user.get_username() for m in page.members}
    epics = {str(e.pk): e.name for e in page.epics}
    sprints = {str(s.pk): s.name + (" (current)" if s.state == Sprint.State.ACTIVE else "") for s in page.sprints}
    kinds = dict(Ticket.Kind.choices)

    def name(param: str, value: str) -> tuple[str, str]:
        if param == "q":
            return "Search", f"“{_shorten(value)}”"
        if param == "assignee":
            return "Assignee", "Unassigned" if value == "none" else _shorten(people.get(value, value))
        if param == "label":
            return "Label", _shorten(value)
        if param == "kind":
            return "Kind", str(kinds.get(value, value))
        if param == "epic":
            return "Epic", _shorten(epics.get(value, f"#{value}"))
        if param == "sprint":
            return "Sprint", "Backlog (no sprint)" if value == "none" else _shorten(sprints.get(value, f"#{value}"))
        if param == "blocked":
            return ("Blocked", "") if value == "true" else ("Not blocked", "")
        return param, _shorten(value)

    return name
