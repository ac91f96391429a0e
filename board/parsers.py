"""Request parsers for the API: a body that cannot be read is a 400, never a 500.

DRF's JSONParser turns a ValueError into a ParseError (400), but two kinds of
valid JSON reached the client as a 500:
- nested a few thousand levels deep, the decoder raises RecursionError. Here any
  body nested deeper than MAX_DEPTH is refused, so nothing after the parser
  (validation, error messages) recurses on it either;
- a lone surrogate escape ("\\ud800") decodes to a str that cannot be encoded as
  UTF-8: an error message quoting it (`"\\ud800" is not a valid choice`) made the
  JSON renderer fail. Such strings are refused here, in keys and values alike.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A ticket is an object holding lists of strings: two levels. 32 leaves room.
MAX_DEPTH = 32


def _check(data, limit: int) -> None:
    """Refuse parsed JSON nested deeper than `limit`, or with a string that is
    not valid Unicode (walked iteratively: no recursion on hostile input)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if isinstance(value, dict):
            for key in value:
                _check_text(key)
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= limit:
            raise ParseError(f"JSON parse error - nested more than {limit} levels deep.")
        stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError("JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff).") from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 for bodies nested too deeply."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from None
        _check(data, MAX_DEPTH)
        return data
