"""Counting a filtered slice of millions of audit rows without a full COUNT(*).

Up to EXACT_COUNT_LIMIT matching rows the count is exact (a COUNT over a LIMITed subquery, which
stops early). Past it, the count is PostgreSQL's planner estimate for the query (EXPLAIN: table
statistics, no scan), never less than EXACT_COUNT_LIMIT + 1. Pages themselves are exact.
"""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from brain.api.pagination import LimitOffsetPagination

EXACT_COUNT_LIMIT = 10_000


def estimated_count(queryset):
    """The number of rows of `queryset`: exact up to EXACT_COUNT_LIMIT, estimated above."""
    queryset = queryset.order_by()
    capped = queryset[: EXACT_COUNT_LIMIT + 1].count()
    if capped <= EXACT_COUNT_LIMIT or connections[queryset.db].vendor != "postgresql":
        return capped
    plan = json.loads(queryset.explain(format="json"))
    return max(capped, int(plan[0]["Plan"]["Plan Rows"]))


class EstimatedCountPagination(LimitOffsetPagination):
    """The API's limit/offset pagination with `count` from estimated_count()."""

    def get_count(self, queryset):
        return estimated_count(queryset)


class EstimatedCountPaginator(Paginator):
    """The admin changelist's paginator with `count` from estimated_count()."""

    @cached_property
    def count(self):
        return estimated_count(self.object_list)
