"""Filter pieces shared by every app's API."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters import fields
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, filters

# A value that is none of a parameter's choices, worded as DRF words one in a body ('"fatal" is
# not a valid choice.'): the same value reads the same refused in a query string or a body.
INVALID_CHOICE = '"%(value)s" is not a valid choice.'


class IntegerField(forms.IntegerField):
    """A whole number, refused in DRF's words for one in a body or in `limit`/`offset`."""

    default_error_messages = {"invalid": "A valid integer is required."}


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses UTC offsets beyond ±15:59,
    which ISO 8601 and Python accept. One that UTC cannot hold (year 1 at +14:00) is invalid
    input."""

    def to_python(self, value):
        if isinstance(value, str) and "\x00" in value:  # fromisoformat() would stop there
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A filter on an ISO 8601 date-time, compared in UTC (UtcIsoDateTimeField)."""

    field_class = UtcIsoDateTimeField


class ChoiceField(fields.ChoiceField):
    default_error_messages = {"invalid_choice": INVALID_CHOICE}


class MultipleChoiceField(fields.MultipleChoiceField):
    default_error_messages = {"invalid_choice": INVALID_CHOICE}


class ChoiceFilter(django_filters.ChoiceFilter):
    """django-filter's ChoiceFilter, refusing a value that is none of its choices as a body's
    choice field does (INVALID_CHOICE)."""

    field_class = ChoiceField


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """django-filter's MultipleChoiceFilter, refusing a value that is none of its choices as a
    body's choice field does (INVALID_CHOICE)."""

    field_class = MultipleChoiceField


class OrderingFilter(filters.OrderingFilter):
    """DRF's `?ordering=`, made total: when the ordering (the client's or the view's default)
    lacks the primary key, it is appended, descending when the first key is descending and
    ascending otherwise, so rows with equal keys keep one order and limit/offset pages neither
    overlap nor skip rows. The direction follows the first key so that `-timestamp` becomes
    `-timestamp, -pk`, which a (timestamp, id) index serves with one backward scan."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        # DRF drops the terms it cannot order by, silently: they are bad input, a 400.
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        invalid = [term for term in fields if term not in valid]
        if invalid:
            names = [
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            ]
            raise exceptions.ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {invalid[0]!r}: use {', '.join(names)}, "
                        f"with '-' before one for descending order."
                    ]
                }
            )
        return valid

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        pk_names = {"pk", queryset.model._meta.pk.name}
        if any(term.lstrip("-") in pk_names for term in ordering):
            return ordering
        return [*ordering, "-pk" if ordering[0].startswith("-") else "pk"]
