"""Management commands (seed_events, purge_events, seed) record each row they write as
`system:<command>`, with no client address."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask
from tests.audit_paths.support import (
    audit_mark,
    from_system,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db


def test_seed_events_records_one_create_per_event_as_the_command(
    django_capture_on_commit_callbacks,
):
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_events", count=3, seed=7, verbosity=0)

    events = SystemEvent.objects.order_by("id")
    assert len(events) == 3
    assert records_after(mark) == [
        ("CREATE", "system_events", str(event.pk), stored(event)) for event in events
    ]
    assert origins_after(mark) == [from_system("system:seed_events")] * 3


def test_purge_events_records_one_delete_per_purged_event_as_the_command(
    django_capture_on_commit_callbacks,
):
    old = [SystemEventFactory(timestamp=timezone.now() - timedelta(days=days)) for days in (3, 5)]
    recent = SystemEventFactory()
    values = [stored(event) for event in old]
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_events", older_than="2d", batch_size=1, verbosity=0)

    assert list(SystemEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert sorted(records_after(mark), key=lambda record: int(record[2])) == [
        ("DELETE", "system_events", str(event.pk), row)
        for event, row in zip(old, values, strict=True)
    ]
    assert origins_after(mark) == [from_system("system:purge_events")] * 2


def test_seed_records_every_row_as_the_seed_command_events_included(
    django_capture_on_commit_callbacks,
):
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed", executions=1, events=2, verbosity=0)

    records = records_after(mark)
    rows = {
        model: list(model.objects.order_by("pk"))
        for model in (Project, ScheduledTask, Agent, ExecutionResult, SystemEvent)
    }
    expected = Counter(
        ("CREATE", model._meta.db_table, str(row.pk)) for model in rows for row in rows[model]
    )
    for project in rows[Project]:
        expected[("UPDATE", "projects", str(project.pk))] = project.tasks_count
    assert [len(rows[model]) for model in (Project, ExecutionResult, SystemEvent)] == [6, 21, 2]
    assert Counter(record[:3] for record in records) == expected
    # Rows that did not change after their creation: the CREATE holds what is stored.
    creates = {record[1:3]: record[3] for record in records if record[0] == "CREATE"}
    for model in (ScheduledTask, Agent, ExecutionResult, SystemEvent):
        for row in rows[model]:
            assert creates[(model._meta.db_table, str(row.pk))] == stored(row)
    # A project is created empty, then counts each of its tasks.
    for project in rows[Project]:
        assert creates[("projects", str(project.pk))]["tasks_count"] == 0
        counts = [
            record[3]["tasks_count"]
            for record in records
            if record[:3] == ("UPDATE", "projects", str(project.pk))
        ]
        assert counts == [{"old": n, "new": n + 1} for n in range(project.tasks_count)]
    assert origins_after(mark) == [from_system("system:seed")] * len(records)
