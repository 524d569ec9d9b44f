"""`manage.py import_events FILE`: NDJSON or CSV (or standard input), validated as the API
validates, stored with COPY and audited as system:import, all or nothing."""

import io
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditLog
from events.management.commands import import_events
from events.models import SystemEvent
from events.tests.test_ingest import REFUSED
from events.tests.test_progress import Terminal
from tests.audit_paths.support import (
    audit_mark,
    from_system,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db

VALID = {"event_type": "deploy", "severity": "info", "message": "m"}


def _rows():
    return [
        list(SystemEvent.objects.order_by("pk").values()),
        list(AuditLog.objects.order_by("pk").values()),
    ]


def _import(path, *args):
    stdout, stderr = io.StringIO(), Terminal()
    call_command("import_events", str(path), *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_imports_ndjson_with_one_audit_record_each(tmp_path, monkeypatch):
    monkeypatch.setattr(import_events, "CHUNK", 2)
    path = tmp_path / "events.ndjson"
    items = [{**VALID, "message": f"m{n}", "details": {"n": n}} for n in range(5)]
    day = datetime.now(UTC).date() - timedelta(days=2)
    items[0]["timestamp"] = f"{day}T00:00:00Z"
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n\n")

    stdout, stderr = _import(path)

    events = list(SystemEvent.objects.order_by("id"))
    assert stdout == "Imported 5 events.\n"
    assert "5/5" in stderr  # the progress bar, with its total
    assert [(event.message, event.details) for event in events] == [
        (f"m{n}", {"n": n}) for n in range(5)
    ]
    assert events[0].timestamp == datetime(day.year, day.month, day.day, tzinfo=UTC)
    records = AuditLog.objects.filter(table_name="system_events", operation="CREATE")
    assert sorted(records.values_list("record_id", "user_id")) == sorted(
        (str(event.id), "system:import") for event in events
    )


def test_imports_csv_with_optional_columns(tmp_path):
    path = tmp_path / "events.csv"
    day = datetime.now(UTC).date() - timedelta(days=2)
    path.write_text(
        "event_type,severity,message,details,source,timestamp\n"
        f'deploy,info,"rolled out, at last","{{""v"": 2}}",api-1,{day}T03:04:05+02:00\n'
        "backup,error,failed,,,\n"
    )

    stdout, _ = _import(path)

    first, second = SystemEvent.objects.order_by("id")
    assert stdout == "Imported 2 events.\n"
    assert (first.message, first.details, first.source) == (
        "rolled out, at last",
        {"v": 2},
        "api-1",
    )
    assert first.timestamp == datetime(day.year, day.month, day.day, 1, 4, 5, tzinfo=UTC)
    assert (second.event_type, second.details, second.source) == ("backup", None, None)


def test_reads_standard_input(monkeypatch):
    body = json.dumps(VALID) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body.encode())))

    stdout, _ = _import("-")

    assert stdout == "Imported 1 events.\n"
    assert SystemEvent.objects.get().message == "m"


def test_one_refused_line_imports_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(import_events, "CHUNK", 2)
    path = tmp_path / "events.ndjson"
    lines = [json.dumps(VALID)] * 3 + [
        json.dumps({**VALID, "severity": "fatal", "id": 4}),
        "{not json",
    ]
    path.write_text("\n".join(lines))
    before = _rows()

    with pytest.raises(CommandError, match="nothing was imported"):
        _import(path)

    assert _rows() == before


def test_refused_lines_are_reported_by_number(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_type,severity,message,details\ndeploy,info,m,\ndeploy,info,,[1\n")
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert 'line 3: {"details": ["Value must be valid JSON."]}' in stderr.getvalue()
    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize(("change", "errors"), REFUSED)
def test_a_line_is_refused_with_the_messages_of_the_api(tmp_path, change, errors):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(VALID) + "\n" + json.dumps({**VALID, **change}) + "\n")
    stderr = io.StringIO()
    before = _rows()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert f"line 2: {json.dumps(errors)}" in stderr.getvalue()
    assert _rows() == before


def test_a_line_that_is_not_json_is_refused_as_the_api_words_it(tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(VALID) + "\n{not json\n")
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert 'line 2: {"non_field_errors": ["JSON parse error - Expecting property name' in (
        stderr.getvalue()
    )
    assert not SystemEvent.objects.exists()


def test_a_key_repeated_in_one_object_is_refused_naming_the_line(tmp_path):
    before = _rows()
    path = tmp_path / "events.ndjson"
    path.write_text(
        json.dumps(VALID)
        + '\n{"event_type": "x", "severity": "info", "message": "m", "details": {"k": 1, "k": 2}}\n'
    )
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert (
        'line 2: {"non_field_errors": '
        '["JSON parse error - the key \\"k\\" appears twice in one object."]}'
    ) in stderr.getvalue()
    assert _rows() == before


def test_a_key_repeated_in_a_csv_details_cell_is_refused_naming_the_key(tmp_path):
    before = _rows()
    path = tmp_path / "events.csv"
    path.write_text('event_type,severity,message,details\ndeploy,info,m,"{""k"": 1, ""k"": 2}"\n')
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert (
        'line 2: {"details": '
        '["Value must be valid JSON: the key \\"k\\" appears twice in one object."]}'
    ) in stderr.getvalue()
    assert _rows() == before


def test_a_csv_file_with_a_byte_order_mark_is_imported(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_type,severity,message\ndeploy,info,m\n", encoding="utf-8-sig")

    stdout, _ = _import(path)

    assert stdout == "Imported 1 events.\n"
    assert SystemEvent.objects.get().event_type == "deploy"


def test_an_ndjson_file_with_a_byte_order_mark_is_refused_saying_so(tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(VALID) + "\n", encoding="utf-8-sig")
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert "line 1:" in stderr.getvalue()
    assert "the line starts with a byte-order mark; send UTF-8 without one." in stderr.getvalue()
    assert not SystemEvent.objects.exists()


def test_csv_lines_with_fewer_or_more_columns_than_the_header_are_refused_saying_so(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_type,severity,message\ndeploy,info,m\ndeploy,info\ndeploy,info,m,extra\n"
    )
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=stderr)

    assert stderr.getvalue().splitlines()[-2:] == [
        'line 3: {"non_field_errors": ["This line has fewer columns than the header."]}',
        'line 4: {"non_field_errors": ["This line has more columns than the header."]}',
    ]
    assert not SystemEvent.objects.exists()


def test_a_column_repeated_in_a_csv_header_is_refused_naming_it(tmp_path):
    before = _rows()
    path = tmp_path / "events.csv"
    path.write_text("event_type,severity,message,message\ndeploy,info,kept,dropped\n")

    with pytest.raises(CommandError) as raised:
        _import(path)

    assert str(raised.value) == (
        'line 1: the column "message" appears twice in the header: nothing was imported.'
    )
    assert _rows() == before


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _import(tmp_path / "missing.ndjson")


def test_import_records_exactly_what_a_save_would_as_system_import(tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps({**VALID, "details": {"token": "s3cret", "n": 1}, "source": "s"}))
    mark = audit_mark()

    _import(path)

    event = SystemEvent.objects.get()
    recorded = {**stored(event), "details": {"token": "[redacted]", "n": 1}}  # a secret's name
    assert records_after(mark) == [("CREATE", "system_events", str(event.pk), recorded)]
    assert event.details == {"token": "s3cret", "n": 1}
    assert origins_after(mark) == [from_system("system:import")]
