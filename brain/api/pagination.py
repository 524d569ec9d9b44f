"""Pagination shared by every list: limit/offset with the `count/next/previous/results`
envelope, and, for tables of millions of rows, a count that never scans them all."""

import json
import re

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property
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
    plan = json.loads(keys.explain(format="json"))
    return max(capped, int(plan[0]["Plan"]["Plan Rows"]))


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
    """LimitOffsetPagination whose `count` is estimated_count(): for lists of millions of rows."""

    def get_count(self, queryset):
        return estimated_count(queryset)


# The deepest page the console offers: past it, a list is narrowed by its filters or its search.
CONSOLE_MAX_PAGES = 1_000


class ConsolePaginator(Paginator):
    """The admin change list's paginator for lists of millions of rows: `count` from
    estimated_count(), at most CONSOLE_MAX_PAGES pages (a deeper page is refused as one past the
    last), and a page selects its rows' keys first, in the list's order, then the rows by those
    keys, so that what the queryset annotates is computed for the page's rows only, never for
    the rows skipped before them, and the list's filters are searched once (the rows are read by
    their keys, not found again by a second search)."""

    @cached_property
    def count(self):
        return estimated_count(self.object_list)

    @cached_property
    def num_pages(self):
        return min(super().num_pages, CONSOLE_MAX_PAGES)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return Page(self.object_list.filter(pk__in=keys), number, self)
