"""Pagination for the API's lists: ?limit= and ?offset=, parsed strictly and bounded.

DRF's LimitOffsetPagination passes any number `int()` accepts to the database:
`?limit=99999999999999999999` overflows SQLite's and PostgreSQL's integers (a 500),
and `int()` takes "٣" and " 7 " as numbers. Here only ASCII digits count; anything
else falls back to the default (as DRF does for "-1" or "abc"), and a huge number
is cut to the maximum.
"""

from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
# Far beyond any board, far below the 64-bit integers databases take.
MAX_OFFSET = 10**12


def parse_count(raw: str | None, *, default: int, maximum: int, allow_zero: bool) -> int:
    """A non-negative count from a query parameter: ASCII digits only, at most `maximum`."""
    if raw is None or not (raw.isascii() and raw.isdigit()):
        return default
    if len(raw) > len(str(maximum)):  # no int() of a 10,000-digit string
        return maximum
    value = int(raw)
    if value == 0 and not allow_zero:
        return default
    return min(value, maximum)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """?limit= (1 to 1000, PAGE_SIZE by default) and ?offset= (0 by default)."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param) if self.limit_query_param else None
        return parse_count(raw, default=self.default_limit, maximum=self.max_limit, allow_zero=False)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        return parse_count(raw, default=0, maximum=MAX_OFFSET, allow_zero=True)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_limit})
                parameter["description"] = f"Number of results to return per page (1 to {self.max_limit})."
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update({"minimum": 0})
        return parameters
