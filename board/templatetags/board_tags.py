from datetime import timedelta

from django import template
from django.utils.safestring import mark_safe

from board.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(text):
    # Safe: render_markdown escapes typed HTML and nh3 sanitises the output.
    return mark_safe(render_markdown(text))


@register.filter
def initials(user):
    if user is None:
        return ""
    full = (user.get_full_name() or "").split()
    if len(full) >= 2:
        return (full[0][0] + full[-1][0]).upper()
    return user.get_username()[:2].upper()


@register.filter
def short_age(delta: timedelta):
    """2d, 5h, 12m: how long a card has sat in its column."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def display_name(user):
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


@register.simple_tag(takes_context=True)
def render_cards(context, cards):
    """Cards through the view's CardRenderer (see board/cards.py for why)."""
    return context["card_renderer"].render_many(cards)
