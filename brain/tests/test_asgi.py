"""The ASGI application's HTTP side: a body past its limit is refused before it is stored."""

import json

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from brain.asgi import application


@async_to_sync
async def post(body, headers):
    """The status and body of the answer to a POST /api/events/bulk whose body is sent as one ASGI
    message, or never sent when `body` is None."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/api/events/bulk",
        "raw_path": b"/api/events/bulk",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    if body is not None:
        await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(5)
    answer = await communicator.receive_output(5)
    return start["status"], json.loads(answer["body"])


def test_a_declared_length_past_the_limit_is_refused_before_the_body_is_read(settings):
    settings.REQUEST_MAX_BODY_BYTES = 100

    status, body = post(b"", [(b"content-type", b"application/json"), (b"content-length", b"101")])

    assert (status, body) == (413, {"detail": "Request body too large: the limit is 100 bytes."})


def test_an_undeclared_body_is_refused_once_past_the_limit_of_its_type(settings):
    settings.REQUEST_MAX_BODY_BYTES = 100
    settings.REQUEST_MAX_NDJSON_BYTES = 200
    ndjson = [(b"content-type", b"application/x-ndjson"), (b"transfer-encoding", b"chunked")]

    status, body = post(b"x" * 201, ndjson)

    assert (status, body) == (413, {"detail": "Request body too large: the limit is 200 bytes."})
