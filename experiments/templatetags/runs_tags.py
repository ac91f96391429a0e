"""Small formatting filters of the run pages."""

import math

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12 s, 3 min 05 s, 2 h 04 min; "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(round(float(seconds))))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def metric(value) -> str:
    """A metric to 4 significant digits; other values as they are."""
    if isinstance(value, bool) or value is None or value == "":
        return "—" if value in (None, "") else str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


@register.filter
def percent(fraction) -> int:
    try:
        return max(0, min(100, int(round(float(fraction) * 100))))
    except (TypeError, ValueError):
        return 0


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key, "") if hasattr(mapping, "get") else ""
