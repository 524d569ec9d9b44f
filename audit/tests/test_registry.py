"""The audit registry: what is recorded, and what it refuses."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from audit import registry
from audit.models import AuditLog
from events.models import SystemEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event_without_source():
    registry.register(SystemEvent, exclude=["source", "created_at"])
    yield
    registry.register(SystemEvent)


def test_excluded_fields_are_never_recorded(event_without_source, records):
    event = SystemEvent.objects.create(event_type="x", severity="info", message="m", source="a")
    event.source = "b"
    event.save()

    assert "source" not in records()[0][3]
    assert "created_at" not in records()[0][3]
    assert [op for op, *_ in records()] == ["CREATE"]


def test_an_unregistered_model_is_a_plain_model(django_assert_num_queries):
    registry.unregister(SystemEvent)
    try:
        with django_assert_num_queries(1):
            SystemEvent.objects.create(event_type="x", severity="info", message="m")
        SystemEvent.objects.update(severity="error")
        SystemEvent.objects.all().delete()
    finally:
        registry.register(SystemEvent)

    assert not AuditLog.objects.exists()


def test_every_audited_model_is_registered_from_its_inheritance():
    audited = sorted(
        model.__name__ for model in apps.get_models() if registry.options_for(model) is not None
    )

    assert audited == ["Agent", "ExecutionResult", "Project", "ScheduledTask", "SystemEvent"]


def test_unknown_excluded_fields_are_refused():
    with pytest.raises(ImproperlyConfigured, match="no fields"):
        registry.register(SystemEvent, exclude=["nope"])
