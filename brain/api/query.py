"""The rules for query parameters on every API endpoint: a parameter the endpoint does not know
is a 400 naming it (`?sevrity=error` would otherwise answer the whole unfiltered list), and so is
a known one given with an empty value (`?limit=`, `?timestamp_before=`), never read as absent:
the schema types every parameter (a date-time, an integer, one of some choices), and an empty text
is none of them. A parameter that takes one value is a 400 given twice (`?limit=5&limit=10`):
the framework would read the last and drop the others; one that takes several (a FilterSet's
multiple choice, `?severity=error&severity=critical`) may be repeated.

An endpoint's parameters come from what reads them: a list (a GET whose URL names no one object)
takes its filter backends' parameters (a FilterSet's filters, `ordering`, `search`) and its
paginator's (`limit`, `offset`); an endpoint reading its query string with a serializer names it
as `query_serializer_class`; every endpoint takes `format` (the renderer; one none of the view's
renderers has is a 400 too, ContentNegotiation). The OpenAPI schema (brain.api.schema.AutoSchema)
documents the same set."""

from django import forms
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings

from .filters import INVALID_CHOICE

EMPTY_PARAMETER = "This parameter may not be empty: give a value or leave it out."
UNKNOWN_PARAMETER = "Unknown query parameter. Known: {known}."
REPEATED_PARAMETER = "This parameter takes one value; it was given {count} times."


def _backend_parameters(backend, view):
    """The query parameters a filter backend reads for `view`, in their declared order: a
    FilterSet's filters by name (no filter here is a range, whose widget reads suffixed names)."""
    if isinstance(backend, DjangoFilterBackend):
        filterset_class = backend.get_filterset_class(view)
        return list(filterset_class.base_filters) if filterset_class else []
    return [parameter["name"] for parameter in backend.get_schema_operation_parameters(view)]


def known_query_parameters(view, request):
    """The names of the query parameters `view` takes for `request`, in declared order."""
    names = []
    if view.query_serializer_class is not None:
        names += list(view.query_serializer_class().fields)
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    if request.method in {"GET", "HEAD"} and lookup not in view.kwargs:
        for backend_class in getattr(view, "filter_backends", ()):
            names += _backend_parameters(backend_class(), view)
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            names += [p["name"] for p in paginator.get_schema_operation_parameters(view)]
    if api_settings.URL_FORMAT_OVERRIDE:
        names.append(api_settings.URL_FORMAT_OVERRIDE)
    return list(dict.fromkeys(names))


def repeatable_filters(filterset_class):
    """The names of the filters of `filterset_class` that take several values: those whose form
    field is a multiple choice."""
    return {
        name
        for name, filter_ in filterset_class.base_filters.items()
        if issubclass(filter_.field_class, forms.MultipleChoiceField)
    }


def repeatable_query_parameters(view):
    """The names of the query parameters `view` takes several values of: its FilterSet's
    repeatable filters."""
    names = set()
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view)
            if filterset_class is not None:
                names |= repeatable_filters(filterset_class)
    return names


class QueryParametersMixin:
    """For DRF views: refuses, after authentication and permissions (an anonymous request still
    gets its 401), a query string with a parameter the view does not know, a known one with an
    empty value, or one that takes a single value given more than once, each named with its
    message in one 400."""

    # A serializer validating the query string, for an endpoint that reads it without a filter
    # backend; its fields are parameters the endpoint knows.
    query_serializer_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.query_params:
            return
        known = known_query_parameters(self, request)
        errors = {}
        repeatable = None
        for name, values in request.query_params.lists():
            if name not in known:
                errors[name] = [UNKNOWN_PARAMETER.format(known=", ".join(known))]
            elif "" in values:
                errors[name] = [EMPTY_PARAMETER]
            elif len(values) > 1:
                if repeatable is None:
                    repeatable = repeatable_query_parameters(self)
                if name not in repeatable:
                    errors[name] = [REPEATED_PARAMETER.format(count=len(values))]
        if errors:
            raise ValidationError(dict(sorted(errors.items())))


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, with a `format` that none of the view's renderers has refused
    as any other bad choice is (a 400 naming the parameter), where DRF answers 404."""

    def filter_renderers(self, renderers, format):
        try:
            return super().filter_renderers(renderers, format)
        except Http404:
            raise ValidationError(
                {api_settings.URL_FORMAT_OVERRIDE: [INVALID_CHOICE % {"value": format}]}
            ) from None
