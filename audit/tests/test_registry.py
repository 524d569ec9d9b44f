"""audit.register(): what is recorded, and what it refuses."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

import audit
from audit.models import AuditLog
from events.models import SystemEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event_without_source():
    audit.register(SystemEvent, exclude=["source", "created_at"])
    yield
    audit.register(SystemEvent)


def test_excluded_fields_are_never_recorded(event_without_source, records):
    event = SystemEvent.objects.create(event_type="x", severity="info", message="m", source="a")
    event.source = "b"
    event.save()

    assert "source" not in records()[0][3]
    assert "created_at" not in records()[0][3]
    assert [op for op, *_ in records()] == ["CREATE"]


def test_an_unregistered_model_is_a_plain_model(django_assert_num_queries):
    audit.unregister(SystemEvent)
    try:
        with django_assert_num_queries(1):
            SystemEvent.objects.create(event_type="x", severity="info", message="m")
        SystemEvent.objects.update(severity="error")
        SystemEvent.objects.all().delete()
    finally:
        audit.register(SystemEvent)

    assert not AuditLog.objects.exists()


def test_only_audited_models_can_be_registered():
    with pytest.raises(ImproperlyConfigured, match="AuditedModel"):
        audit.register(get_user_model())


def test_unknown_excluded_fields_are_refused():
    with pytest.raises(ImproperlyConfigured, match="no fields"):
        audit.register(SystemEvent, exclude=["nope"])
