"""Pagination shared by every API list: limit/offset with the `count/next/previous/results`
envelope, and, for tables of millions of rows, a count that never scans them all (which the
console's lists share: brain.admin_lists)."""

import json
import re

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

# Up to this many matching rows a count is exact; above it, PostgreSQL's planner estimate. Small,
# because the bounded count reads up to this many index entries on every first page.
EXACT_COUNT_LIMIT = 1_000


def estimated_count(queryset):
    """The number of rows of `queryset`: exact when at most EXACT_COUNT_LIMIT match (a COUNT over
    a LIMITed subquery, which stops early, so its cost stays flat however large the table),
    otherwise PostgreSQL's row estimate for the query (EXPLAIN, from the table statistics: no
    scan), never less than the rows just counted. Two queries at most."""
    # Only the key is selected, to count and to estimate: the expressions the queryset annotates
    # are neither computed nor planned (their subqueries, over every partition they read, can
    # cost more to plan than the estimate itself).
    keys = queryset.order_by().values("pk")
    capped = keys[: EXACT_COUNT_LIMIT + 1].count()
    if capped <= EXACT_COUNT_LIMIT:
        return capped
    return max(capped, planned_count(keys))


def planned_count(queryset):
    """PostgreSQL's estimate of the number of rows of `queryset` (EXPLAIN: no scan)."""
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`limit`/`offset` pagination answering `{"count", "next", "previous", "results"}`. A limit
    above max_limit is capped (the `next` link goes on from there); a `limit` or `offset` that is
    not an integer, or below 1 and 0, is a 400 (DRF would silently use its default)."""

    default_limit = 50
    max_limit = 1000

    def get_limit(self, request):
        limit = _query_integer(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        offset = _query_integer(request, self.offset_query_param, minimum=0)
        return 0 if offset is None else offset


_INTEGER = re.compile(r"-?[0-9]+")


def _query_integer(request, name, *, minimum):
    """The integer query parameter `name` (None when absent or empty), at least `minimum`."""
    value = request.query_params.get(name, "")
    if value == "":
        return None
    if not _INTEGER.fullmatch(value):  # int() would also take " 5", "1_000" and "١"  # noqa: RUF003
        raise ValidationError({name: ["A valid integer is required."]})
    number = int(value)
    if number < minimum:
        raise ValidationError({name: [f"Ensure this value is greater than or equal to {minimum}."]})
    return number


class EstimatedCountPagination(LimitOffsetPagination):
    """LimitOffsetPagination for lists of millions of rows. A page reads one row past its limit,
    so `next` is there exactly when more rows follow, whatever the count says; `count` is
    estimated_count() (two small queries), never less than the rows the page has shown to exist,
    and exact on the last page (counted from its rows, no estimate made)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.more = len(rows) > self.limit
        del rows[self.limit :]
        if self.more:
            self.count = max(estimated_count(queryset), self.offset + len(rows) + 1)
        elif rows or self.offset == 0:
            self.count = self.offset + len(rows)
        else:  # past the end: at most `offset` rows
            self.count = min(estimated_count(queryset), self.offset)
        self.display_page_controls = self.count > self.limit and self.template is not None
        return rows

    def get_next_link(self):
        return super().get_next_link() if self.more else None
