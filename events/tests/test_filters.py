import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from events.filters import clean_event_type, filter_for_stats

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_a_path_type_is_validated_as_the_event_type_filter():
    assert clean_event_type("deploy") == "deploy"
    with pytest.raises(ValidationError) as raised:
        clean_event_type("a\x00b")

    assert raised.value.detail == {"event_type": ["Null characters are not allowed."]}


def test_stats_without_filters_are_every_event():
    event = SystemEventFactory()

    queryset, filters = filter_for_stats(QueryDict())

    assert (list(queryset), filters) == ([event], [])


def test_stats_filters_select_events_and_name_the_filters_given():
    error = SystemEventFactory(event_type="deploy", severity="error")
    SystemEventFactory(event_type="deploy", severity="info")

    queryset, filters = filter_for_stats(QueryDict("severity=error&event_type=deploy&source="))

    assert list(queryset) == [error]
    assert filters == [("event_type", "deploy"), ("severity", "['error']")]


def test_bad_stats_filters_are_refused():
    with pytest.raises(ValidationError) as raised:
        filter_for_stats(QueryDict("severity=fatal"))

    assert raised.value.detail == {"severity": ['"fatal" is not a valid choice.']}
