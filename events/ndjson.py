"""An NDJSON bulk of `POST /api/events/bulk`, stored as it is read: the worker holds one chunk
of lines at a time (events.parsers.NDJSONBody) and writes the answer as it goes (NDJSONAnswer),
so a body of REQUEST_MAX_NDJSON_BYTES never sits whole in its memory."""

from tempfile import SpooledTemporaryFile

from django.http import FileResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from brain.api.renderers import JSONRenderer

from .schemas import EventsRefused, drf_message
from .serializers import SystemEventSerializer
from .services import events_submit

# The answer's events are kept in memory up to this size, then in a temporary file.
ANSWER_MEMORY_BYTES = 1024 * 1024


def ndjson_ingest(body, *, minimal, max_events, chunk_lines, chunk_bytes, max_errors):
    """Validates and stores the lines of `body` (an NDJSONBody) as they are read, chunk by chunk
    (body.chunks), in one transaction: all or none. Answers 201 with NDJSONAnswer's body; raises
    DRF's ValidationError naming the first `max_errors` refused lines by number, or saying the
    body has no line or more than `max_events`, and ParseError for a line that is not JSON: then
    nothing is stored."""
    answer = NDJSONAnswer(minimal=minimal)
    lines = 0

    def keyed_chunks():
        nonlocal lines
        for chunk in body.chunks(lines=chunk_lines, size=chunk_bytes):
            lines += len(chunk)
            if lines > max_events:
                raise _refused(f"Ensure there are no more than {max_events} lines.")
            yield [(f"line {number}", item) for number, item in chunk]

    try:
        events_submit(
            chunks=keyed_chunks(),
            max_errors=max_errors,
            on_chunk=lambda size, rows: answer.add(rows),
        )
        if not lines:
            raise _refused(drf_message(serializers.ListSerializer, "empty"))
    except EventsRefused as refused:
        answer.close()
        raise exceptions.ValidationError(refused.errors) from None
    except BaseException:
        answer.close()
        raise
    return answer.response()


def _refused(message):
    return exceptions.ValidationError({"non_field_errors": [message]})


class NDJSONAnswer:
    """The answer of an NDJSON bulk, written as its chunks are stored: with `Prefer:
    return=minimal` their ids and count, else the stored events as a JSON array, in a temporary
    file that stays in memory up to ANSWER_MEMORY_BYTES and is answered from disk past it."""

    def __init__(self, *, minimal):
        self.minimal = minimal
        self.ids = []
        # Closed by close(), or by the response once sent.
        self.file = None if minimal else SpooledTemporaryFile(ANSWER_MEMORY_BYTES)  # noqa: SIM115

    def add(self, rows):
        """Adds stored events (event_ingest's rows) to the answer."""
        if self.minimal:
            self.ids.extend(row["id"] for row in rows)
        elif rows:
            events = JSONRenderer().render(SystemEventSerializer(rows, many=True).data)
            self.file.write(b"," if self.file.tell() else b"[")
            self.file.write(events[1:-1])  # the rendered list's items, without its brackets

    def response(self):
        if self.minimal:
            response = Response({"ids": self.ids, "count": len(self.ids)}, status.HTTP_201_CREATED)
            response["Preference-Applied"] = "return=minimal"
            return response
        self.file.write(b"]")
        self.file.seek(0)
        return FileResponse(
            self.file, status=status.HTTP_201_CREATED, content_type="application/json"
        )

    def close(self):
        if self.file is not None:
            self.file.close()
