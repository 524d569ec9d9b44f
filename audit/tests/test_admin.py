"""The audit log in the admin: read-only even for superusers, exact search, the diff as a table,
and the link target for an audited object's trail."""

import pytest
from django.urls import reverse

from audit.admin import AuditTrailLinkMixin, audit_trail_url
from audit.models import AuditLog
from events.models import SystemEvent

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditlog/"


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pw-123"))
    return client


@pytest.fixture
def update_log():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="<old>").pk)
    event.message = "new"
    event.save()
    return AuditLog.objects.get(operation="UPDATE")


def test_superuser_can_neither_add_change_nor_delete(superuser_client, update_log):
    change_url = f"{CHANGELIST}{update_log.pk}/change/"

    assert superuser_client.get(f"{CHANGELIST}add/").status_code == 403
    assert superuser_client.get(f"{CHANGELIST}{update_log.pk}/delete/").status_code == 403
    delete_url = f"{CHANGELIST}{update_log.pk}/delete/"
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    page = superuser_client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    superuser_client.post(change_url, {"record_id": "tampered"})
    changelist = superuser_client.get(CHANGELIST)
    assert b"delete_selected" not in changelist.content
    assert AuditLog.objects.get(pk=update_log.pk).record_id == update_log.record_id


def test_change_page_shows_the_diff_as_an_escaped_old_new_table(superuser_client, update_log):
    page = superuser_client.get(f"{CHANGELIST}{update_log.pk}/change/").content.decode()

    assert "<tr><th>Field</th><th>Old</th><th>New</th></tr>" in page
    assert "<tr><td>message</td><td>&lt;old&gt;</td><td>new</td></tr>" in page


def test_search_is_an_exact_match_on_record_or_user_id(superuser_client, update_log):
    SystemEventFactory()

    exact = superuser_client.get(CHANGELIST, {"q": update_log.record_id})
    prefix = superuser_client.get(CHANGELIST, {"q": update_log.record_id[:-1] or "x"})

    assert [log.pk for log in exact.context["cl"].result_list] == list(
        AuditLog.objects.filter(record_id=update_log.record_id)
        .order_by("-timestamp", "-id")
        .values_list("pk", flat=True)
    )
    assert "changed_fields" not in str(exact.context["cl"].queryset.query).split("WHERE")[1]
    assert len(prefix.context["cl"].result_list) == 0


def test_filters_by_operation_and_table(superuser_client, update_log):
    page = superuser_client.get(
        CHANGELIST, {"operation__exact": "UPDATE", "table_name": "system_events"}
    )

    assert [log.pk for log in page.context["cl"].result_list] == [update_log.pk]
    assert "scheduled_tasks" in page.content.decode()  # the table filter lists audited tables


def test_audit_trail_url_lists_one_objects_records(superuser_client, update_log):
    event = SystemEvent.objects.get(pk=update_log.record_id)
    url = audit_trail_url(event)

    page = superuser_client.get(url)

    changelist = reverse("admin:audit_auditlog_changelist")
    assert url == f"{changelist}?table_name=system_events&record_id={event.pk}"
    assert {log.record_id for log in page.context["cl"].result_list} == {str(event.pk)}
    assert len(page.context["cl"].result_list) == 2


def test_trail_link_mixin_renders_a_link():
    event = SystemEventFactory()

    link = AuditTrailLinkMixin().audit_trail(event)

    href = audit_trail_url(event).replace("&", "&amp;")
    assert link == f'<a href="{href}">Changes to this record</a>'
