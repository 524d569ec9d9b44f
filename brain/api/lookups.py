"""How a detail route reads the id in its path."""


class IdLookupMixin:
    """For DRF viewsets whose rows have integer ids: the `{id}` of a detail route is 1 to 18 ASCII
    digits, so the router answers 404 before any query to a value that cannot be an id (longer
    than a bigint holds) or that int() would read anyway (an Arabic-Indic digit one as 1)."""

    lookup_value_regex = "[0-9]{1,18}"
