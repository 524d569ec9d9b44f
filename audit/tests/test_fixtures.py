"""dumpdata and loaddata: a full dump loads into an empty database as it was, audit trail
included, and loading it writes no audit record of its own (a raw save records nothing)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditLog
from brain.context import audit_actor
from brain.tokens import token_create
from events.services import event_create
from scheduling import services

# Every table of the project's own apps, and their users and tokens.
APPS = ["events", "scheduling", "audit", "brain"]


def _every_row(*, milliseconds=False):
    """Every row of those tables that Django manages (the event counts are the database's own,
    kept by its triggers); with `milliseconds`, date-times cut to the millisecond (as Django's
    JSON serializer writes them)."""
    models = [get_user_model()]
    models += [model for app in APPS for model in apps.get_app_config(app).get_models()]
    models = [model for model in models if model._meta.managed]

    def value(item):
        if milliseconds and isinstance(item, datetime):
            return item.replace(microsecond=item.microsecond // 1000 * 1000)
        return item

    return {
        model._meta.label: [
            {name: value(item) for name, item in row.items()}
            for row in model.objects.order_by("pk").values()
        ]
        for model in models
    }


@pytest.mark.parametrize("dump_format", ["json", "xml"])
@pytest.mark.django_db(transaction=True)
def test_a_full_dump_loads_into_an_empty_database_with_its_audit_trail(tmp_path, dump_format):
    user = get_user_model().objects.create_user("owner", password="owner-password-1")
    token_create(user=user)
    with audit_actor("system:test"):
        event_create(event_type="deploy", severity="info", message="v1", details={"v": 1})
        project = services.project_create(user=user, name="Ops")
        task = services.task_create(
            user=user, skill_name="demo.echo", schedule_cron="*/5 * * * *", project=project
        )
        started_at = datetime(2026, 1, 1, tzinfo=UTC)
        services.execution_create(
            task=task,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=2),
            status="success",
        )
        agent = services.agent_create(name="Builder", type="coder")
        services.agent_update(agent=agent, data={"status": "busy"})
        services.task_update(task=task, data={"status": "disabled"})
    milliseconds = dump_format == "json"
    before = _every_row(milliseconds=milliseconds)
    dump = tmp_path / f"dump.{dump_format}"
    call_command("dumpdata", "auth.user", *APPS, format=dump_format, output=str(dump), verbosity=0)

    call_command("flush", "--no-input", verbosity=0)
    emptied = AuditLog.objects.count()
    call_command("loaddata", str(dump), verbosity=0)

    assert emptied == 0
    assert before["audit.AuditLog"] and before["scheduling.ScheduledTask"]
    assert _every_row(milliseconds=milliseconds) == before
