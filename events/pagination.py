import json

from brain.api.pagination import LimitOffsetPagination


def estimated_count(queryset, exact_limit):
    """The exact count when at most `exact_limit` rows match, else the planner's estimate.

    The bounded count reads at most `exact_limit + 1` rows (an index range, mostly), so its cost
    stays flat however large the table; above the bound a full COUNT would scan every matching
    row, so PostgreSQL's own row estimate (EXPLAIN, from the table's statistics) is returned, and
    never less than the rows just seen. Two queries at most, both independent of the table size.
    """
    queryset = queryset.order_by()
    bounded = queryset[: exact_limit + 1].count()
    if bounded <= exact_limit:
        return bounded
    plan = queryset.explain(format="json")
    return max(int(json.loads(plan)[0]["Plan"]["Plan Rows"]), bounded)


class EstimatedCountPagination(LimitOffsetPagination):
    """limit/offset pagination whose `count` is exact up to `exact_count_limit` matching rows and
    the planner's estimate above it."""

    exact_count_limit = 10_000

    def get_count(self, queryset):
        return estimated_count(queryset, self.exact_count_limit)
