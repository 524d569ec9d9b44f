"""What the stream sends: each change rendered once, as `GET /api/events/{id}` renders the event,
and the protocol's own messages (docs/api.md, "Live events")."""

import json
from dataclasses import dataclass

from brain.api.renderers import JSONRenderer
from events.serializers import SystemEventSerializer

# Close codes (after the handshake; a refused handshake is an HTTP 403).
CLOSE_BAD_REQUEST = 4400  # a filter or `after` that is not one; an error message names it
CLOSE_UNAUTHENTICATED = 4401  # the token or session is no longer valid
CLOSE_TOO_SLOW = 4408  # the client fell behind: resume after the position of the resume message
CLOSE_GONE = 4410  # `after` is older than the oldest change kept
CLOSE_UNAVAILABLE = 4503  # PostgreSQL could not be read: resume after the position given


@dataclass(frozen=True)
class Message:
    """One event's change, rendered: `text` is the JSON frame, the other fields what filters
    match."""

    position: int
    event_type: str
    severity: str
    source: str | None
    text: str


def render(change):
    """The frame of one change (events.stream.log.Change): its operation and position, and the
    event exactly as GET /api/events/{id} renders it (for a delete, as it was)."""
    body = JSONRenderer().render(SystemEventSerializer(change.event).data).decode()
    # The event's bytes as the API renders them, inside an envelope of two plain values.
    text = f'{{"type":"event","op":"{change.op}","position":{change.position},"event":{body}}}'
    event = change.event
    return Message(change.position, event["event_type"], event["severity"], event["source"], text)


def subscribed(position, filters):
    """Sent on connect and after each change of filters: the position the stream goes on from."""
    return json.dumps({"type": "subscribed", "position": position, "filters": filters})


def error(errors):
    """A refused request: {field: [messages]}, as the API's 400 bodies."""
    return json.dumps({"type": "error", "errors": errors})


def resume(position, reason):
    """Sent before a close the client should answer by reconnecting with ?after=<position>."""
    return json.dumps({"type": "resume", "after": position, "reason": reason})
