"""Reads of agents: they have no owner, every authenticated user sees them all."""

from django.db.models import QuerySet, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from ..models import Agent


def agent_list() -> QuerySet[Agent]:
    """Every agent, by name."""
    return Agent.objects.order_by("name")


def agent_list_named(*, name: str, queryset: QuerySet[Agent] | None = None) -> QuerySet[Agent]:
    """The agents (of `queryset`, default all) named `name` whatever the case: at most one,
    found through the unique index on lower(name)."""
    queryset = Agent.objects.all() if queryset is None else queryset
    return queryset.filter(Exact(Lower("name"), Lower(Value(name))))
