"""The audit registry: what is recorded, and what it refuses."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.test.utils import isolate_apps

from audit import registry
from audit.mixins import AuditedModel
from audit.tests.auditapp.models import Note

pytestmark = pytest.mark.django_db


def test_excluded_fields_are_never_recorded(records):
    note = Note.objects.create(title="draft", rank=1)
    note.rank = 2
    note.save()
    note.title = "final"
    note.save()
    Note.objects.filter(pk=note.pk).update(rank=3)
    Note.objects.filter(pk=note.pk).update(rank=4, title="again")
    note = Note.objects.get(pk=note.pk)
    note.rank, note.title = 5, "last"
    note.save()
    note.rank = 6
    Note.objects.bulk_update([note], ["rank"])

    assert records() == [
        ("CREATE", "audit_test_notes", str(note.pk), {"title": "draft"}),
        ("UPDATE", "audit_test_notes", str(note.pk), {"title": {"old": "draft", "new": "final"}}),
        ("UPDATE", "audit_test_notes", str(note.pk), {"title": {"old": "final", "new": "again"}}),
        ("UPDATE", "audit_test_notes", str(note.pk), {"title": {"old": "again", "new": "last"}}),
    ]


def test_every_audited_model_is_registered_from_its_inheritance_or_as_brains():
    audited = sorted(
        model.__name__ for model in apps.get_models() if issubclass(model, AuditedModel)
    )

    assert audited == [
        "Agent",
        "Attachment",
        "ExecutionResult",
        "Note",
        "Project",
        "ScheduledTask",
        "SystemEvent",
    ]
    assert sorted(model.__name__ for model in registry.audited_models().values()) == sorted(
        [*audited, "APIToken"]
    )


@isolate_apps("audit.tests.auditapp")
def test_unknown_excluded_fields_are_refused():
    class Misnamed(AuditedModel):
        title = models.CharField(max_length=10)

        audit_exclude = ("nope",)

        class Meta:
            app_label = "audit_tests"

    with pytest.raises(ImproperlyConfigured, match=r"Misnamed has no fields \['nope'\]"):
        registry.register(Misnamed)
    assert Misnamed not in registry.audited_models().values()
