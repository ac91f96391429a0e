"""A board's time zone: where its days (charts, the standup) begin and end."""

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA names a board may choose, sorted (the settings form offers them)."""
    return tuple(sorted(available_timezones()))


def board_tz(board) -> ZoneInfo:
    """The board's time zone; empty (or a name this system does not know) means the server's TIME_ZONE."""
    try:
        return ZoneInfo(board.time_zone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)
