"""The rule for query parameters on every API endpoint: a parameter given with an empty value
(`?limit=`, `?timestamp_before=`) is a 400 naming it, never read as absent. The schema types every
parameter (a date-time, an integer, one of some choices), and an empty text is none of them."""

from rest_framework.exceptions import ValidationError

EMPTY_PARAMETER = "This parameter may not be empty: give a value or leave it out."


class NonEmptyQueryParametersMixin:
    """For DRF views: refuses a query string with an empty parameter value, after
    authentication and permissions (an anonymous request still gets its 401)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        empty = sorted({name for name, values in request.query_params.lists() if "" in values})
        if empty:
            raise ValidationError({name: [EMPTY_PARAMETER] for name in empty})
