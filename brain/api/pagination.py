from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`limit`/`offset` pagination answering `{"count", "next", "previous", "results"}`."""

    default_limit = 50
    max_limit = 1000
