"""Records written by model saves and deletes through the ORM: exact diffs, exact query counts."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import ProgrammingError, connection, transaction
from django.db.models import RestrictedError
from django.db.models.signals import pre_delete

from audit.changes import REDACTED
from audit.models import AuditLog
from audit.tests.auditapp.models import Attachment, Note
from events.models import SystemEvent
from scheduling.models import ExecutionResult, Project, ScheduledTask

from .factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
    SystemEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def encoded(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def test_create_records_every_field_with_json_encoded_values(records):
    event = SystemEvent.objects.create(
        event_type="deployment",
        severity="info",
        message="v2 out",
        details={"version": 2},
        source="ci",
    )

    assert records() == [
        (
            "CREATE",
            "system_events",
            str(event.pk),
            {
                "event_type": "deployment",
                "severity": "info",
                "message": "v2 out",
                "details": {"version": 2},
                "source": "ci",
                "timestamp": encoded(event.timestamp),
                "created_at": encoded(event.created_at),
            },
        )
    ]


def test_create_is_the_insert_plus_one_insert(django_assert_num_queries):
    with django_assert_num_queries(2):
        SystemEvent.objects.create(event_type="deployment", severity="info", message="m")


def test_update_records_only_the_changed_fields(records):
    event = SystemEventFactory(message="before", severity="info")
    event = SystemEvent.objects.get(pk=event.pk)

    event.message = "after"
    event.severity = "error"
    event.save()

    assert records(operation="UPDATE") == [
        (
            "UPDATE",
            "system_events",
            str(event.pk),
            {
                "message": {"old": "before", "new": "after"},
                "severity": {"old": "info", "new": "error"},
            },
        )
    ]


def test_update_of_a_loaded_instance_is_the_update_plus_one_insert(django_assert_num_queries):
    event = SystemEvent.objects.get(pk=SystemEventFactory().pk)
    event.message = "changed"

    with django_assert_num_queries(2) as captured:
        event.save()

    assert [query["sql"].split()[0] for query in captured] == ["UPDATE", "INSERT"]


def test_save_that_changes_nothing_writes_no_record(django_assert_num_queries):
    event = SystemEvent.objects.get(pk=SystemEventFactory().pk)

    with django_assert_num_queries(1):
        event.save()

    assert AuditLog.objects.filter(operation="UPDATE").count() == 0


def test_snapshot_is_refreshed_after_save(records):
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="one").pk)
    event.message = "two"
    event.save()
    event.message = "three"
    event.save()
    event.save()

    assert [changed for *_, changed in records(operation="UPDATE")] == [
        {"message": {"old": "one", "new": "two"}},
        {"message": {"old": "two", "new": "three"}},
    ]


def test_in_place_change_of_a_json_field_is_seen(records):
    event = SystemEvent.objects.get(pk=SystemEventFactory(details={"tries": 1}).pk)

    event.details["tries"] = 2
    event.save()

    assert records(operation="UPDATE")[0][3] == {
        "details": {"old": {"tries": 1}, "new": {"tries": 2}}
    }


def test_update_fields_limit_the_diff_to_the_saved_fields(records):
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="a", source="x").pk)
    event.message = "b"
    event.source = "y"

    event.save(update_fields=["message"])
    event.save(update_fields=["source"])

    assert [changed for *_, changed in records(operation="UPDATE")] == [
        {"message": {"old": "a", "new": "b"}},
        {"source": {"old": "x", "new": "y"}},
    ]


def test_instance_built_by_hand_costs_one_select(records, django_assert_num_queries):
    stored = SystemEventFactory(message="stored", severity="info", source="s")
    by_hand = SystemEvent(
        pk=stored.pk,
        event_type=stored.event_type,
        severity="warning",
        message="stored",
        source="s",
        timestamp=stored.timestamp,
        created_at=stored.created_at,
    )

    with django_assert_num_queries(3) as captured:
        by_hand.save()

    assert [query["sql"].split()[0] for query in captured] == ["SELECT", "UPDATE", "INSERT"]
    assert records(operation="UPDATE") == [
        ("UPDATE", "system_events", str(stored.pk), {"severity": {"old": "info", "new": "warning"}})
    ]


def test_deferred_field_assigned_then_saved_reads_its_old_value(records):
    SystemEventFactory(message="m", source="old-source")
    event = SystemEvent.objects.only("message").get()

    event.source = "new-source"
    event.save()

    assert records(operation="UPDATE")[0][3] == {
        "source": {"old": "old-source", "new": "new-source"}
    }


def test_loading_a_deferred_field_keeps_the_other_fields_unsaved_changes(records):
    SystemEventFactory(message="stored", source="s")
    event = SystemEvent.objects.only("message").get()

    event.message = "changed"
    assert event.source == "s"  # loads the deferred field: refresh_from_db(fields=["source"])
    event.save()

    assert records(operation="UPDATE")[0][3] == {"message": {"old": "stored", "new": "changed"}}


def test_refresh_from_db_refreshes_the_snapshot(records):
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="one").pk)
    SystemEvent.objects.filter(pk=event.pk).update(message="two")

    event.refresh_from_db()
    event.save()

    assert [changed for *_, changed in records(operation="UPDATE")] == [
        {"message": {"old": "one", "new": "two"}}
    ]


def test_delete_records_the_last_values(records, django_assert_num_queries):
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="bye").pk)
    pk = event.pk

    with django_assert_num_queries(2):
        event.delete()

    assert records(operation="DELETE") == [
        (
            "DELETE",
            "system_events",
            str(pk),
            {
                "event_type": "deployment",
                "severity": "info",
                "message": "bye",
                "details": None,
                "source": None,
                "timestamp": encoded(event.timestamp),
                "created_at": encoded(event.created_at),
            },
        )
    ]


def test_foreign_keys_are_recorded_as_raw_ids(records):
    user = UserFactory()
    project = ProjectFactory(user=user)
    other = ProjectFactory(user=user)
    task = ScheduledTask.objects.create(
        skill_name="backup", schedule_cron="* * * * *", user=user, project=project
    )
    task = ScheduledTask.objects.get(pk=task.pk)

    task.project = other
    task.save()

    created = records(operation="CREATE", table_name="scheduled_tasks")[0][3]
    assert (created["user_id"], created["project_id"]) == (user.pk, project.pk)
    updated = records(operation="UPDATE", table_name="scheduled_tasks")[0][3]
    assert updated.pop("project_id") == {"old": project.pk, "new": other.pk}
    assert set(updated) == {"updated_at"}


def test_auto_now_alone_is_no_change(records):
    project = ProjectFactory()

    project.save()

    assert records(operation="UPDATE") == []


def test_secret_like_names_inside_json_are_recorded_as_changed_without_values(records):
    task = ScheduledTaskFactory(params_json={"api_key": "k1", "path": "/a"})
    task = ScheduledTask.objects.get(pk=task.pk)

    task.params_json = {"api_key": "k2", "path": "/a"}
    task.save()

    assert records(operation="CREATE", table_name="scheduled_tasks")[0][3]["params_json"] == {
        "api_key": REDACTED,
        "path": "/a",
    }
    assert records(operation="UPDATE")[0][3]["params_json"] == {
        "old": {"api_key": REDACTED, "path": "/a"},
        "new": {"api_key": REDACTED, "path": "/a"},
    }


def test_every_scheduling_model_is_audited(records):
    project = ProjectFactory()
    task = ScheduledTaskFactory(project=project, user=project.user)
    agent = AgentFactory()
    execution = ExecutionResultFactory(task=task)

    assert [(table, record_id) for _, table, record_id, _ in records(operation="CREATE")] == [
        ("projects", str(project.pk)),
        ("scheduled_tasks", str(task.pk)),
        ("agents", str(agent.pk)),
        ("execution_results", str(execution.pk)),
    ]


def test_deleting_a_task_records_its_cascaded_executions(records, django_assert_num_queries):
    task = ScheduledTaskFactory()
    first, second = ExecutionResultFactory(task=task), ExecutionResultFactory(task=task)
    task = ScheduledTask.objects.get(pk=task.pk)
    task_pk = task.pk

    # SELECT the executions, DELETE them, DELETE the task, one INSERT of three records.
    with django_assert_num_queries(4):
        task.delete()

    assert sorted((table, record_id) for _, table, record_id, _ in records(operation="DELETE")) == [
        ("execution_results", str(first.pk)),
        ("execution_results", str(second.pk)),
        ("scheduled_tasks", str(task_pk)),
    ]
    assert not ExecutionResult.objects.exists()


def test_deleting_a_note_records_its_attachments_losing_it(records):
    note = Note.objects.create(title="note")
    attachment = Attachment.objects.create(name="file", note=note)
    note_pk = note.pk

    note.delete()

    assert [(op, table) for op, table, *_ in records()[-2:]] == [
        ("UPDATE", "audit_test_attachments"),
        ("DELETE", "audit_test_notes"),
    ]
    change = records(operation="UPDATE")[0]
    assert change[2] == str(attachment.pk)
    assert change[3]["note_id"] == {"old": note_pk, "new": None}


def test_deleting_a_project_with_tasks_is_refused_and_records_nothing(records):
    project = ProjectFactory()
    ScheduledTaskFactory(project=project, user=project.user)
    before = records()

    with pytest.raises(RestrictedError), transaction.atomic():
        Project.objects.get(pk=project.pk).delete()

    assert records() == before


def test_deleting_a_user_records_the_rows_it_cascades_to(records):
    user = UserFactory()
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    execution = ExecutionResultFactory(task=task)

    user.delete()

    assert sorted((table, record_id) for _, table, record_id, _ in records(operation="DELETE")) == [
        ("execution_results", str(execution.pk)),
        ("projects", str(project.pk)),
        ("scheduled_tasks", str(task.pk)),
    ]
    # The task, deleted with its project (which it restricts only when deleted alone), has its
    # DELETE record only, with the values it had.
    assert records(operation="UPDATE") == []
    deleted = {table: fields for _, table, _, fields in records(operation="DELETE")}
    assert deleted["scheduled_tasks"]["project_id"] == project.pk


def test_create_with_an_explicit_primary_key_reads_nothing(django_assert_num_queries):
    with django_assert_num_queries(2):
        SystemEvent.objects.create(pk=4242, event_type="x", severity="info", message="m")


@pytest.mark.django_db(transaction=True)  # the failed delete and the update: two transactions
def test_a_delete_that_failed_half_way_hides_no_later_update(records):
    task = ScheduledTaskFactory()

    def refuse(sender, instance, **kwargs):
        raise RuntimeError("refused")

    pre_delete.connect(refuse, sender=ScheduledTask, dispatch_uid="test.refuse")
    try:
        with pytest.raises(RuntimeError):
            ScheduledTask.objects.get(pk=task.pk).delete()
    finally:
        pre_delete.disconnect(sender=ScheduledTask, dispatch_uid="test.refuse")
    ScheduledTask.objects.filter(pk=task.pk).update(status="disabled")

    assert [(op, table, record_id) for op, table, record_id, _ in records()] == [
        ("CREATE", "scheduled_tasks", str(task.pk)),
        ("UPDATE", "scheduled_tasks", str(task.pk)),
    ]


def test_a_delete_that_failed_half_way_hides_no_later_change(records):
    note = Note.objects.create(title="note")
    attachment = Attachment.objects.create(name="file", note=note)
    with connection.cursor() as cursor:  # both dropped with the test's transaction
        cursor.execute(
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse BEFORE DELETE ON audit_test_attachments"
            " FOR EACH ROW EXECUTE FUNCTION test_refuse()"
        )
    with pytest.raises(ProgrammingError, match="refused"), transaction.atomic():
        Attachment.objects.get(pk=attachment.pk).delete()  # pre_delete ran, its DELETE failed
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse ON audit_test_attachments")

    Note.objects.get(pk=note.pk).delete()  # the attachment's note becomes null

    [(_, _, _, changed)] = records(operation="UPDATE", table_name="audit_test_attachments")
    assert changed["note_id"] == {"old": note.pk, "new": None}
