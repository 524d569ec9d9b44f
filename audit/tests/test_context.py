"""Who and from where: the request context recorded with each change (user, IP, user agent,
request id), through the real middleware stack and DRF token authentication."""

import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditLog
from brain.commands import AuditedCommand
from brain.context import audit_actor
from brain.middleware import AuditContextMiddleware
from events.models import SystemEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("audit.tests.test_context")]


class EventWriteView(APIView):
    """A write path of these tests' own, independent of the events API."""

    def post(self, request):
        event = SystemEvent.objects.create(event_type="test", severity="info", message="m")
        return Response({"id": event.pk}, status=201)


urlpatterns = [path("api/test-audit-write", EventWriteView.as_view())]


def test_token_user_ip_user_agent_and_request_id_are_recorded(api_client, user):
    response = api_client.post(
        "/api/test-audit-write", HTTP_USER_AGENT="dashboard/1.0", HTTP_X_REQUEST_ID="req-42"
    )

    assert response.status_code == 201
    log = AuditLog.objects.get(table_name="system_events")
    assert (log.user_id, log.ip_address, log.user_agent, log.request_id) == (
        str(user.pk),
        "127.0.0.1",
        "dashboard/1.0",
        response["X-Request-ID"],  # Brain's id for the request, not the one the client sent
    )
    assert log.request_id != "req-42"


def test_behind_a_trusted_proxy_its_request_id_is_recorded(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    response = api_client.post(
        "/api/test-audit-write",
        HTTP_X_REQUEST_ID="7f3a9c0e-proxy",
        HTTP_X_FORWARDED_FOR="192.0.2.1",
    )

    assert response["X-Request-ID"] == "7f3a9c0e-proxy"
    assert AuditLog.objects.get(table_name="system_events").request_id == "7f3a9c0e-proxy"


def test_a_user_agent_with_a_nul_character_is_recorded_with_it_replaced(api_client):
    response = api_client.post("/api/test-audit-write", HTTP_USER_AGENT="evil\x00agent")

    assert response.status_code == 201
    assert AuditLog.objects.get(table_name="system_events").user_agent == "evil\ufffdagent"


def test_spoofed_forwarded_for_without_trusted_proxy_changes_nothing(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 0

    api_client.post("/api/test-audit-write", HTTP_X_FORWARDED_FOR="6.6.6.6")

    assert AuditLog.objects.get(table_name="system_events").ip_address == "127.0.0.1"


def test_behind_one_trusted_proxy_the_rightmost_entry_is_the_client(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    api_client.post("/api/test-audit-write", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")

    assert AuditLog.objects.get(table_name="system_events").ip_address == "203.0.113.7"


def test_anonymous_change_records_no_user():
    request = RequestFactory().post("/", HTTP_USER_AGENT="curl/8")
    request.request_id = "r1"

    def view(request):
        SystemEvent.objects.create(event_type="test", severity="info", message="m")
        return HttpResponse()

    AuditContextMiddleware(view)(request)

    log = AuditLog.objects.get()
    assert (log.user_id, log.ip_address, log.user_agent, log.request_id) == (
        None,
        "127.0.0.1",
        "curl/8",
        "r1",
    )


def test_audit_actor_names_the_process():
    with audit_actor("system:seed"):
        SystemEvent.objects.create(event_type="test", severity="info", message="m")
    SystemEvent.objects.create(event_type="test", severity="info", message="m")

    assert list(AuditLog.objects.order_by("id").values_list("user_id", flat=True)) == [
        "system:seed",
        None,
    ]


class WriteEventCommand(AuditedCommand):
    def handle(self, *args, **options):
        SystemEvent.objects.create(event_type="test", severity="info", message="m")


class NamedWriteEventCommand(WriteEventCommand):
    actor_name = "system:scheduler"


def test_audited_commands_run_as_system_actors():
    call_command(WriteEventCommand())
    call_command(NamedWriteEventCommand())

    assert list(AuditLog.objects.order_by("id").values_list("user_id", flat=True)) == [
        "system:test_context",
        "system:scheduler",
    ]


def test_a_command_called_under_an_actor_keeps_that_actor():
    with audit_actor("system:seed"):
        call_command(NamedWriteEventCommand())

    assert list(AuditLog.objects.values_list("user_id", flat=True)) == ["system:seed"]
