"""An NDJSON bulk is read and stored as a stream: the body is read a block at a time as its
chunks are stored, a refused line far into a large body is still named and leaves nothing
stored, and the answer is written as the events are stored."""

import io
import json

import pytest

from audit.models import AuditLog
from events import ndjson, parsers, views
from events.models import SystemEvent
from events.parsers import READ_BLOCK_BYTES, NDJSONBody

from .conftest import event_json

pytestmark = pytest.mark.django_db

NDJSON = "application/x-ndjson"
VALID = {"event_type": "deploy", "severity": "info", "message": "m"}


def _line(n):
    return json.dumps({**VALID, "message": f"event {n}", "details": {"n": n}}) + "\n"


class RecordingStream(io.BytesIO):
    """A request body that records how many bytes have been read from it."""

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read = self.tell()
        return data


def test_the_body_is_read_a_block_at_a_time_as_chunks_are_consumed():
    body = "".join(_line(n) for n in range(100_000)).encode()
    stream = RecordingStream(body)
    chunks = NDJSONBody(stream, limit=len(body), line_limit=1000).chunks(lines=5000, size=10**9)

    first = next(chunks)

    assert [number for number, _ in first] == list(range(1, 5001))
    assert first[0][1] == json.loads(_line(0))
    assert len(body) > 5 * READ_BLOCK_BYTES
    assert stream.bytes_read == READ_BLOCK_BYTES
    assert sum(len(chunk) for chunk in chunks) == 95_000
    assert stream.bytes_read == len(body)


def test_a_chunk_ends_at_its_line_count_or_once_its_text_reaches_the_size():
    fat, thin = json.dumps("x" * 98), json.dumps("y" * 8)  # 100 and 10 bytes
    body = "\n".join([fat] * 4 + [thin] * 10 + ["", ""]).encode()

    chunks = NDJSONBody(io.BytesIO(body), limit=len(body), line_limit=100).chunks(lines=8, size=300)

    assert [[number for number, _ in chunk] for chunk in chunks] == [
        [1, 2, 3],
        [4, 5, 6, 7, 8, 9, 10, 11],
        [12, 13, 14],
    ]


def test_a_refused_line_at_the_end_of_a_large_body_is_named_and_nothing_is_stored(api_client):
    body = "".join(_line(n) for n in range(99_999)) + json.dumps({**VALID, "severity": "fatal"})

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert response.status_code == 400
    assert response.json() == {"line 100000": {"severity": ['"fatal" is not a valid choice.']}}
    assert not SystemEvent.objects.exists()
    assert not AuditLog.objects.filter(table_name="system_events").exists()


def test_a_line_that_is_not_json_after_stored_chunks_is_named_and_nothing_is_stored(
    api_client, monkeypatch
):
    monkeypatch.setattr(views, "NDJSON_CHUNK", 1000)
    body = "".join(_line(n) for n in range(2_999)) + "{not json\n"

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Line 3000: JSON parse error - ")
    assert not SystemEvent.objects.exists()
    assert not AuditLog.objects.filter(table_name="system_events").exists()


def test_a_line_longer_than_its_limit_is_named_and_nothing_is_stored(api_client, monkeypatch):
    monkeypatch.setattr(parsers, "MAX_LINE_BYTES", 100)
    body = _line(1) + json.dumps({**VALID, "message": "x" * 100}) + "\n" + _line(3)

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Line 2: too long: the limit is 100 bytes a line."},
    )
    assert not SystemEvent.objects.exists()


def test_a_line_without_a_final_newline_is_stored(api_client):
    body = _line(1) + json.dumps({**VALID, "message": "last"})

    response = api_client.generic(
        "POST", "/api/events/bulk", body, content_type=NDJSON, HTTP_PREFER="return=minimal"
    )

    assert response.status_code == 201
    assert list(SystemEvent.objects.order_by("id").values_list("message", flat=True)) == [
        "event 1",
        "last",
    ]


def test_an_answer_past_its_memory_share_is_answered_whole_from_its_file(api_client, monkeypatch):
    monkeypatch.setattr(ndjson, "ANSWER_MEMORY_BYTES", 1000)
    body = "".join(_line(n) for n in range(12_000))

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert response.status_code == 201
    assert json.loads(b"".join(response.streaming_content)) == [
        event_json(event) for event in SystemEvent.objects.order_by("id")
    ]
    assert SystemEvent.objects.count() == 12_000
