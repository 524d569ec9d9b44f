"""A chunked request body, as gunicorn passes it on (no Content-Length), is refused with a clear
411 rather than read as empty."""

import http.client
import json

import pytest

from brain.tokens import token_create
from events.models import SystemEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_chunked_body_is_a_411_that_says_why(serve, user):
    server = serve()
    body = json.dumps({"event_type": "deploy", "severity": "info", "message": "m"}).encode()
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.request(
        "POST",
        "/api/events",
        body=iter([body[:10], body[10:]]),
        headers={
            "Authorization": f"Token {token_create(user=user)}",
            "Content-Type": "application/json",
        },
        encode_chunked=True,
    )
    response = client.getresponse()

    assert response.status == 411
    assert json.loads(response.read()) == {
        "detail": (
            "Length required: send the body with a Content-Length header "
            "(chunked transfer encoding is not accepted)."
        )
    }
    client.close()
    assert not SystemEvent.objects.filter(event_type="deploy").exists()
