"""Filter pieces shared by every app's API."""

from rest_framework import filters


class OrderingFilter(filters.OrderingFilter):
    """DRF's `?ordering=`, made total: when the ordering (the client's or the view's default)
    lacks the primary key, it is appended, descending when the first key is descending and
    ascending otherwise, so rows with equal keys keep one order and limit/offset pages neither
    overlap nor skip rows. The direction follows the first key so that `-timestamp` becomes
    `-timestamp, -pk`, which a (timestamp, id) index serves with one backward scan."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        pk_names = {"pk", queryset.model._meta.pk.name}
        if any(term.lstrip("-") in pk_names for term in ordering):
            return ordering
        return [*ordering, "-pk" if ordering[0].startswith("-") else "pk"]
