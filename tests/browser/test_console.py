"""The operator console in a real browser: log in, read the dashboard, follow its links, an
event's trail and a request's records, run a task and see its execution."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient

from brain.models import APIToken
from brain.tokens import token_create
from events.models import SystemEvent
from events.services import event_bulk_create
from scheduling import services as scheduling_services
from scheduling.models import ExecutionResult

from .conftest import PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SEVERITIES = ["info", "info", "info", "warning", "error", "critical"]


@pytest.fixture
def events():
    """Events spread over the last 30 days, every severity, a few types and sources."""
    now = timezone.now()
    return event_bulk_create(
        events=[
            {
                "event_type": ["deploy", "health_check", "backup"][index % 3],
                "severity": SEVERITIES[index % len(SEVERITIES)],
                "message": f"event {index}",
                "details": {"index": index, "lines": ["a", "b"]},
                "source": ["api-1", "worker-2"][index % 2],
                "timestamp": now - timedelta(hours=index * 3),
            }
            for index in range(240)
        ]
    )


def test_dashboard_event_and_its_audit_trail(watched, operator, events):
    api = APIClient()
    api.force_authenticate(operator)
    created = api.post(
        "/api/events",
        {"event_type": "deploy", "severity": "error", "message": "v2 failed", "source": "ci"},
        format="json",
    ).json()
    api.patch(f"/api/events/{created['id']}", {"severity": "critical"}, format="json")
    log_in(watched)
    page = watched.page

    # The index links to the dashboard.
    page.click("#console-links a")
    page.wait_for_url("**/admin/events/dashboard/")
    assert page.locator("#chart-hourly g.bar").count() == 24
    assert page.locator("#chart-daily g.bar").count() == 30
    stats = page.request.get(watched.base_url + "/api/events/stats").json()
    assert page.text_content('[data-stat="total"]') == str(stats["total"]) == "241"
    for severity, count in stats["by_severity"].items():
        assert page.text_content(f'[data-stat="{severity}"]').strip() == str(count)
    top_types = page.locator("#top-types a").all_text_contents()
    assert top_types == [row["event_type"] for row in stats["by_type"]][: len(top_types)]
    watched.screenshot("dashboard")

    # A bar segment opens the changelist of its severity and hour.
    segment = page.locator('#chart-hourly rect[data-severity="info"]').last
    count = int(segment.get_attribute("data-count"))
    segment.click()
    page.wait_for_url(re.compile(r".*/admin/events/systemevent/\?.*severity__exact=info.*"))
    assert page.locator("#result_list tbody tr").count() == count
    assert set(page.locator("#result_list td.field-severity_badge").all_text_contents()) == {"info"}
    watched.screenshot("events-filtered")

    # An event's page has no editable field; History opens its audit trail.
    watched.open(f"/admin/events/systemevent/{created['id']}/change/")
    form = page.locator("#systemevent_form")
    assert (
        form.locator("input:not([type=hidden]), textarea, select, [contenteditable]").count() == 0
    )
    assert form.locator("[name=_save], [name=_continue]").count() == 0
    assert "v2 failed" in form.text_content()
    watched.screenshot("event")
    page.click("a.historylink")
    page.wait_for_url(re.compile(r".*/admin/audit/auditlog/\?table_name=system_events.*"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "severity: error → critical" in rows.first.text_content()
    assert "operator" in rows.first.locator("td.field-actor").text_content()
    watched.screenshot("audit-trail")

    # The request id lists every record of that request: here, the update alone.
    rows.first.locator("td.field-request a").click()
    page.wait_for_url(re.compile(r".*/admin/audit/auditlog/\?request_id=.*"))
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_url(re.compile(r".*/admin/audit/auditlog/\d+/change/.*"))
    expect(page.locator("fieldset .form-row").first).to_have_class(re.compile("field-changes"))
    expect(page.locator(".field-changes table")).to_contain_text("critical")
    assert SystemEvent.objects.get(pk=created["id"]).severity == "critical"


def test_the_dashboard_runs_its_own_scripts_and_refuses_an_injected_one(watched, operator, events):
    watched.expected_console_errors.append(
        r"^Executing inline script violates the following Content Security Policy directive"
    )
    log_in(watched)
    page = watched.page

    response = watched.open("/admin/events/dashboard/")
    # The admin's scripts ran under the policy (theme.js sets the page's theme)...
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    assert page.evaluate("document.documentElement.dataset.theme") == "auto"
    assert watched.policy_violations == []
    # ...and a script injected into the page without the nonce does not run.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true;";
          document.body.append(script);
        }"""
    )
    page.wait_for_timeout(200)  # the violation is reported after the refusal

    assert page.evaluate("window.injected") is None
    assert watched.policy_violations == [("script-src-elem", "inline")]
    watched.policy_violations.clear()


def test_the_browsable_api_runs_its_scripts_under_the_policy(watched, operator, events):
    log_in(watched)

    response = watched.open("/api/events?limit=5")

    assert "script-src 'self';" in response.headers["content-security-policy"]
    # Its scripts (jQuery, prettify, Bootstrap and DRF's own) ran.
    assert watched.page.evaluate("[typeof jQuery, typeof prettyPrint, typeof jQuery.fn.modal]") == [
        "function",
        "function",
        "function",
    ]
    assert watched.page.locator(".response-info").count() == 1


def test_run_a_task_now_and_see_its_execution(watched, operator):
    task = scheduling_services.task_create(
        user=operator,
        skill_name="demo.echo",
        schedule_cron="0 0 1 1 *",
        params_json={"message": "hello from the console"},
        next_run_at=timezone.now() + timedelta(days=300),
    )
    log_in(watched)
    page = watched.page

    watched.open("/admin/scheduling/scheduledtask/")
    row = page.locator("#result_list tbody tr", has_text="demo.echo")
    assert row.locator("td.field-run_count").text_content() == "0"
    assert (
        row.locator("td.field-schedule small").first.text_content()
        == "At 00:00, on day 1 of the month, only in January"
    )
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    assert "1 task(s) queued." in page.locator("ul.messagelist").text_content()

    call_command("run_scheduler", "--once")

    execution = ExecutionResult.objects.get(task=task)
    watched.open("/admin/scheduling/scheduledtask/?q=demo.echo")
    row = page.locator("#result_list tbody tr", has_text="demo.echo")
    assert row.locator("td.field-run_count").text_content() == "1"
    assert row.locator("td.field-last_run .badge").text_content() == "success"
    assert row.locator("td.field-success_rate_shown").text_content() == "100%"
    watched.screenshot("tasks")
    watched.open(f"/admin/scheduling/executionresult/?task__id__exact={task.pk}")
    page.locator(f'#result_list a[href*="/executionresult/{execution.pk}/change/"]').click()
    assert "hello from the console" in page.locator(".field-output pre").text_content()
    page.locator(".field-task_link a").click()
    page.wait_for_url(f"**/admin/scheduling/scheduledtask/{task.pk}/change/")


def test_swagger_ui_loads_nothing_from_another_host(watched):
    response = watched.open("/api/docs")
    watched.page.wait_for_selector(".swagger-ui .info .title")

    assert "script-src 'self';" in response.headers["content-security-policy"]
    watched.screenshot("swagger-ui", full_page=False)


def test_redoc_loads_nothing_from_another_host(watched):
    # The bundle's sidebar always shows Redocly's logo from its CDN: the page's policy stops it in
    # the browser (which says so in the console), and ReDoc drops the image.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    watched.expected_console_errors.append(
        rf"^(Refused to load|Loading) the image '{re.escape(logo)}' (because it )?violates the "
        "following Content Security Policy directive"
    )

    watched.open("/api/redoc")
    watched.page.wait_for_selector("h1")
    for _ in range(50):  # the logo is asked for by an effect that runs after the first render
        if watched.blocked_requests:
            break
        watched.page.wait_for_timeout(100)

    assert watched.blocked_requests == [logo]
    assert watched.policy_violations == [("img-src", logo)]
    watched.policy_violations.clear()
    assert watched.page.locator('img[alt="redocly logo"]').count() == 0
    watched.screenshot("redoc", full_page=False)


# The width an operator tried the console at.
OPERATOR_VIEWPORT = {"width": 1400, "height": 900}

# Each chart's SVG, its card's content box and the horizontal extent of its bars, in pixels.
CHART_GEOMETRY = """() => [...document.querySelectorAll("svg.dashboard-chart")].map((svg) => {
  const card = svg.closest(".dashboard-card");
  const style = getComputedStyle(card);
  const content = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const bars = [...svg.querySelectorAll("g.bar")].map((bar) => bar.getBoundingClientRect());
  const box = svg.getBoundingClientRect();
  return {
    id: svg.id,
    svg: box.width,
    content: content,
    barsLeft: bars[0].left - box.left,
    barsRight: box.right - bars[bars.length - 1].right,
  };
})"""

# A list's columns against the box that shows them (it scrolls what overflows).
LIST_GEOMETRY = """() => {
  const results = document.querySelector("#changelist-form .results");
  const box = results.getBoundingClientRect();
  return {
    clientWidth: results.clientWidth,
    scrollWidth: results.scrollWidth,
    pageScrolls: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    columns: [...document.querySelectorAll("#result_list thead th")].map((th) => {
      const cell = th.getBoundingClientRect();
      // The header's label, without the sort priority of a sorted column.
      const label = th.querySelector(".text a, .text span") || th;
      return [label.textContent.trim(), cell.left >= box.left && cell.right <= box.right];
    }),
  };
}"""


def test_the_charts_and_the_audit_list_fit_an_operators_screen(
    watched, operator, events, django_user_model, tmp_path
):
    # The records an operator meets: the scheduler's, an import's, and a person with a long name.
    task = scheduling_services.task_create(
        user=operator,
        skill_name="demo.echo",
        schedule_cron="*/5 * * * *",
        params_json={"message": "hello"},
        next_run_at=timezone.now() - timedelta(minutes=1),
    )
    call_command("run_scheduler", "--once")
    source = tmp_path / "events.ndjson"
    source.write_text(
        '{"event_type": "deploy", "severity": "info", "message": "imported", "source": "old"}\n'
    )
    call_command("import_events", str(source))
    on_call = django_user_model.objects.create_superuser(
        "operations-on-call-engineer-emea", password=PASSWORD
    )
    api = APIClient()
    api.force_authenticate(on_call)
    edited = api.patch(
        f"/api/tasks/{task.pk}",
        {"schedule_cron": "*/10 * * * *", "params_json": {"message": "a longer message"}},
        format="json",
    )
    assert edited.status_code == 200
    log_in(watched)
    page = watched.page
    page.set_viewport_size(OPERATOR_VIEWPORT)

    watched.open("/admin/events/dashboard/")
    charts = page.evaluate(CHART_GEOMETRY)
    assert [chart["id"] for chart in charts] == ["chart-hourly", "chart-daily"]
    for chart in charts:
        # The SVG fills its card, and the bars span the SVG (half a gap at each end).
        assert chart["content"] - 1 <= chart["svg"] <= chart["content"] + 1, chart
        assert 0 <= chart["barsLeft"] < 0.01 * chart["svg"], chart
        assert 0 <= chart["barsRight"] < 0.01 * chart["svg"], chart
    watched.screenshot("dashboard-1400", full_page=False)

    watched.open("/admin/audit/auditlog/")
    layout = page.evaluate(LIST_GEOMETRY)
    assert layout["columns"] == [
        ["Timestamp", True],
        ["Record", True],
        ["Actor", True],
        ["Change", True],
        ["Request", True],
    ]
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    assert not layout["pageScrolls"]
    row = page.locator("#result_list tbody tr", has_text="operations-on-call-engineer-emea")
    expect(row.locator("td.field-request a")).to_be_in_viewport(ratio=1)
    expect(page.locator("#result_list tbody tr", has_text="system:import")).to_have_count(1)
    expect(page.locator("#result_list tbody tr", has_text="system:scheduler")).to_have_count(4)
    watched.screenshot("audit-list-1400", full_page=False)


# The lines each cron of the tasks list takes.
CRON_LINES = """() => [...document.querySelectorAll("#result_list td.field-schedule code")].map(
  (code) => code.getClientRects().length)"""
LONG_PROJECT = "Customer data retention and compliance reports for the EMEA and APAC regions"
WORKER = "brain-scheduler-5d8f7c9b6d-x7k2p.eu-west-1.compute.internal:48213"


@pytest.fixture
def scheduling_rows(operator, django_user_model):
    """What an operator's scheduling lists hold: three owners (one with a long name), projects
    (one with a long name), tasks of most skills in several time zones, and their runs on a
    worker with a long host name."""
    on_call = django_user_model.objects.create_superuser(
        "operations-on-call-engineer-emea", password=PASSWORD
    )
    alice = django_user_model.objects.create_user("alice", password=PASSWORD)
    compliance = scheduling_services.project_create(user=on_call, name=LONG_PROJECT)
    ops = scheduling_services.project_create(user=operator, name="Ops")
    reporting = scheduling_services.project_create(
        user=alice, name="Nightly reporting pipeline (EMEA)"
    )
    tasks = [
        (on_call, "system.health_check", "*/5 * * * *", "UTC", compliance, "pending"),
        (on_call, "partitions.maintain", "30 2 1 * *", "Europe/London", compliance, "pending"),
        (operator, "events.purge", "0 3 * * 0", "America/Argentina/Buenos_Aires", ops, "pending"),
        (operator, "audit.verify", "0 */6 * * 1-5", "Asia/Kolkata", None, "disabled"),
        (alice, "demo.echo", "15,45 8-18 * * 1-5", "Europe/Berlin", reporting, "pending"),
        (alice, "demo.fail", "0,15,30,45 8-18 * * 1-5", "UTC", reporting, "completed"),
    ]
    statuses = ["success", "failed", "timeout", "cancelled", "success"]
    now = timezone.now()
    for index, (user, skill, cron, zone, project, status) in enumerate(tasks):
        task = scheduling_services.task_create(
            user=user,
            skill_name=skill,
            schedule_cron=cron,
            timezone=zone,
            project=project,
            status=status,
        )
        for run in range(index % 3 + 1):
            started = now - timedelta(hours=index + 6 * run)
            scheduling_services.execution_create(
                task=task,
                started_at=started,
                scheduled_for=started,
                ended_at=started + timedelta(seconds=1 + 97 * run),
                status=statuses[(index + run) % len(statuses)],
                worker=WORKER,
            )
    for name, type_ in [
        ("documentation-writer-for-the-customer-portal-eu-west-1", "documenter"),
        ("security-reviewer-nightly-dependency-audit", "security"),
        ("coder-7", "coder"),
    ]:
        scheduling_services.agent_create(name=name, type=type_, last_active_at=now)


def open_list_at_operator_width(watched, path):
    """Opens a list at 1400 px, checks that its results box shows every column without a
    scroll (the sidebar filters shown beside it) and returns the columns' headers and whether
    each shows."""
    watched.page.set_viewport_size(OPERATOR_VIEWPORT)
    watched.open(path)
    expect(watched.page.locator("#changelist-filter")).to_be_visible()
    layout = watched.page.evaluate(LIST_GEOMETRY)
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    assert not layout["pageScrolls"]
    return layout["columns"]


def test_the_scheduling_lists_fit_an_operators_screen(watched, scheduling_rows):
    log_in(watched)
    page = watched.page

    columns = open_list_at_operator_width(watched, "/admin/scheduling/scheduledtask/")
    assert columns == [
        ["", True],
        ["Task", True],
        ["Schedule", True],
        ["Status", True],
        ["Last run", True],
        ["Runs", True],
        ["Success", True],
        ["Owner", True],
    ]
    # Each cron on one line; one past CRON_SHOWN_LENGTH is cut, its words below it in full.
    assert page.evaluate(CRON_LINES) == [1] * 6
    row = page.locator("#result_list tbody tr", has_text="demo.fail")
    assert row.locator("td.field-schedule code").text_content() == "0,15,30,45 8-18 * *…"
    assert "Monday through Friday" in row.locator("td.field-schedule").text_content()
    # A long project name is cut as the events list cuts a message, whole in its title.
    project = page.locator("#result_list td.field-owner span[title]").first
    assert project.get_attribute("title") == LONG_PROJECT
    assert project.text_content() == LONG_PROJECT[:39] + "…"
    watched.screenshot("tasks-1400", full_page=False)

    columns = open_list_at_operator_width(watched, "/admin/scheduling/executionresult/")
    assert columns == [
        ["", True],
        ["ID", True],
        ["Task", True],
        ["Status", True],
        ["Started", True],
        ["Ended", True],
        ["Duration", True],
        ["Worker", True],
    ]
    worker = page.locator("#result_list td.field-worker_shown span[title]").first
    assert worker.get_attribute("title") == WORKER
    assert worker.text_content() == WORKER[:39] + "…"
    watched.screenshot("executions-1400", full_page=False)

    columns = open_list_at_operator_width(watched, "/admin/scheduling/project/")
    assert columns == [
        ["", True],
        ["Name", True],
        ["Owner", True],
        ["Tasks count", True],
        ["Created at", True],
        ["Updated at", True],
    ]

    columns = open_list_at_operator_width(watched, "/admin/scheduling/agent/")
    assert columns == [
        ["", True],
        ["Name", True],
        ["Type", True],
        ["Status", True],
        ["Last active at", True],
        ["Since last activity", True],
    ]


def test_the_token_list_fits_an_operators_screen_and_marks_expired_tokens(
    watched, operator, django_user_model
):
    # Tokens an operator meets: a person with a long name, a used one, a lasting and an expired.
    on_call = django_user_model.objects.create_superuser(
        "operations-on-call-engineer-emea", password=PASSWORD
    )
    token_create(user=on_call, name="deploy-pipeline-eu-west-1-production", expires_in=86400)
    used = token_create(user=operator, name="ingest", scope="ingest")
    APIToken.objects.filter(prefix=used[:8]).update(last_used_at=timezone.now())
    expired = token_create(user=operator, name="laptop", expires_in=3600)
    APIToken.objects.filter(prefix=expired[:8]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    log_in(watched)

    columns = open_list_at_operator_width(watched, "/admin/brain/apitoken/")
    assert columns == [
        ["", True],
        ["Name", True],
        ["Prefix", True],
        ["User", True],
        ["Scope", True],
        ["Created at", True],
        ["Last used at", True],
        ["Expires at", True],
    ]
    badges = watched.page.locator("#result_list td.field-expires_at_shown .badge")
    expect(badges).to_have_text(["expired"])
    row = watched.page.locator("#result_list tbody tr", has_text="laptop")
    expect(row.locator(".badge")).to_have_count(1)
    watched.screenshot("tokens-1400", full_page=False)
