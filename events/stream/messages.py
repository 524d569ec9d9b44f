"""What the stream sends: each change rendered once, as the API's detail GET renders the row
(`GET /api/events/{id}` an event), and the protocol's own messages (docs/api.md, "Live events")."""

import json
from dataclasses import dataclass

from brain.api.renderers import JSONRenderer
from events.serializers import SystemEventSerializer

from . import kinds

# Close codes (after the handshake; a refused handshake is an HTTP 403).
CLOSE_BAD_REQUEST = 4400  # a filter, stream or `after` that is not one; an error message names it
CLOSE_UNAUTHENTICATED = 4401  # the token or session is no longer valid
CLOSE_TOO_SLOW = 4408  # the client fell behind: resume after the position of the resume message
CLOSE_GONE = 4410  # `after` is older than the oldest change kept
CLOSE_UNAVAILABLE = 4503  # PostgreSQL could not be read: resume after the position given


@dataclass(frozen=True)
class Message:
    """One row's change, rendered: `text` is the JSON frame, the other fields what a
    subscription matches (an event's filters; another kind's owner)."""

    position: int
    event_type: str | None
    severity: str | None
    source: str | None
    text: str
    kind: str = kinds.EVENT
    owner_id: int | None = None


def _frame(kind, change, body):
    # The row's bytes as the API renders them, inside an envelope of plain values.
    return f'{{"type":"{kind}","op":"{change.op}","position":{change.position},"{kind}":{body}}}'


def render(change):
    """The frame of one change (events.stream.log.Change): its operation and position, and the
    row exactly as the API's detail GET renders it (for a delete, as it was): an event as
    GET /api/events/{id}, a registered kind's row by its serializer (events.stream.kinds)."""
    if change.kind == kinds.EVENT:
        event = change.row
        body = JSONRenderer().render(SystemEventSerializer(event).data).decode()
        text = _frame(kinds.EVENT, change, body)
        return Message(
            change.position, event["event_type"], event["severity"], event["source"], text
        )
    kind = kinds.get(change.kind)
    instance = kind.model(**change.row)
    body = JSONRenderer().render(kind.serializer(instance).data).decode()
    text = _frame(kind.name, change, body)
    return Message(change.position, None, None, None, text, kind.name, change.owner_id)


def subscribed(position, filters, streams):
    """Sent on connect and after each change of filters or streams: the position the stream goes
    on from, and what it sends."""
    return json.dumps(
        {"type": "subscribed", "position": position, "filters": filters, "subscribe": streams}
    )


def error(errors):
    """A refused request: {field: [messages]}, as the API's 400 bodies."""
    return json.dumps({"type": "error", "errors": errors})


def resume(position, reason):
    """Sent before a close the client should answer by reconnecting with ?after=<position>."""
    return json.dumps({"type": "resume", "after": position, "reason": reason})
