"""The standup page: one person at a time, in large type, for a projector."""

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .permissions import board_for
from .standup import MAX_DAYS, PRESETS, BadStandupRequest, clean_person, standup_for, standup_window
from .timezones import board_tz


@login_required
@require_GET
def standup(request, board_id):
    """`?since=` a preset or a date, `?person=` whose turn it is. A malformed
    value answers 400 with the reason, on the page itself; a well-formed
    person without a section (someone who left) starts from the first person."""
    board, membership = board_for(request.user, board_id)
    tz = board_tz(board)
    now = timezone.now()
    today = now.astimezone(tz).date()
    context = {
        "board": board, "membership": membership, "tz": tz, "presets": PRESETS.items(),
        "today": today.isoformat(), "earliest": (today - timedelta(days=MAX_DAYS)).isoformat(),
        "since": request.GET.get("since", "")[:40],
    }
    try:
        window = standup_window(request.GET.get("since"), tz=tz, now=now)
        person = clean_person(request.GET.get("person"))
    except BadStandupRequest as error:
        return render(request, "board/standup.html", {**context, "error": str(error)}, status=400)
    data = standup_for(board, window=window)
    current = data.index_of(person) if person else 0
    if current is None:  # someone who left, or has nothing to show in this window: start from the first
        context["notice"] = f"“{person}” has no section in this standup {window.label}: starting from the first person."
        current = 0
    people = data.people
    links = [_link(window.since, p.key) for p in people]
    entries = [
        SimpleNamespace(person=p, link=links[i], number=i + 1, prev=links[i - 1] if i > 0 else "",
                        next=links[i + 1] if i + 1 < len(people) else "")
        for i, p in enumerate(people)
    ]
    context.update({
        "window": window, "since": window.since, "entries": entries, "current": current, "standup": data,
        "current_key": people[current].key if people else "",
        "custom_date": window.since if window.since not in PRESETS else "",
        # Within a week a weekday names the day; over a longer window it would be ambiguous.
        "time_format": "D H:i" if (today - window.first_day).days < 7 else "D j M, H:i",
    })
    return render(request, "board/standup.html", context)


def _link(since: str, person: str) -> str:
    return "?" + urlencode({"since": since, "person": person})
