from datetime import UTC, datetime, timedelta

import pytest

from events.models import SystemEvent
from events.selectors import event_get, event_list, event_list_by_severity, event_list_by_type

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_event_list_is_newest_first_ties_by_id():
    now = datetime.now(UTC)
    old = SystemEventFactory(timestamp=now - timedelta(hours=1))
    first, second = SystemEventFactory(timestamp=now), SystemEventFactory(timestamp=now)

    assert list(event_list()) == [second, first, old]


def test_event_get(django_assert_num_queries):
    event = SystemEventFactory()

    with django_assert_num_queries(1):
        assert event_get(event_id=event.id) == event
    with pytest.raises(SystemEvent.DoesNotExist):
        event_get(event_id=event.id + 1)


def test_event_lists_by_type_and_by_severity_narrow_a_queryset():
    deploy_error = SystemEventFactory(event_type="deploy", severity="error")
    deploy_info = SystemEventFactory(event_type="deploy", severity="info")
    backup_critical = SystemEventFactory(event_type="backup", severity="critical")

    assert set(event_list_by_type(event_type="deploy")) == {deploy_error, deploy_info}
    assert set(event_list_by_severity(severities=["error", "critical"])) == {
        deploy_error,
        backup_critical,
    }
    assert list(
        event_list_by_severity(
            severities=["error"], queryset=event_list_by_type(event_type="deploy")
        )
    ) == [deploy_error]
