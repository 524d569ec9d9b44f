"""What the stream sends: each change rendered at most once, as the API's detail GET renders
the row (`GET /api/events/{id}` an event), and the protocol's own messages (docs/api.md, "Live
events")."""

import json
from datetime import datetime
from functools import cache, cached_property

from rest_framework import serializers

from brain.api.renderers import JSONRenderer
from events.serializers import SystemEventSerializer

from . import kinds
from .log import PURGE

# Close codes (after the handshake; a refused handshake is an HTTP 403).
CLOSE_BAD_REQUEST = 4400  # a filter, stream or `after` that is not one; an error message names it
CLOSE_UNAUTHENTICATED = 4401  # the token or session is no longer valid
CLOSE_TOO_SLOW = 4408  # the client fell behind: resume after the position of the resume message
CLOSE_GONE = 4410  # `after` is older than the oldest change kept
CLOSE_UNAVAILABLE = 4503  # PostgreSQL could not be read: resume after the position given


@cache
def _serializer(kind):
    """The serializer of a registered kind, one for all its rows: DRF builds a serializer's
    fields once per instance, which costs ten times as much as rendering a row with them."""
    return kinds.get(kind).serializer()


class Message:
    """One row's change (events.stream.log.Change): what a subscription matches (its kind and
    owner; an event's type, severity and source) and its frame, `text`, rendered the first time
    a socket sends it and shared by every socket after: a change no socket takes costs no
    rendering."""

    def __init__(self, change):
        self.change = change
        self.position = change.position
        self.kind = change.kind
        self.purge = change.op == PURGE
        self.owner_id = change.owner_id
        event = change.row if change.kind == kinds.EVENT and not self.purge else {}
        self.event_type = event.get("event_type")
        self.severity = event.get("severity")
        self.source = event.get("source")

    @cached_property
    def text(self):
        """The JSON frame: the operation and position, and the row exactly as the API's detail
        GET renders it (for a delete, as it was): an event as GET /api/events/{id}, a registered
        kind's row by its serializer (events.stream.kinds). A purge: its range, the times written
        as the API writes an event's."""
        change = self.change
        if self.purge:
            return purge(change.position, change.row["from"], change.row["before"])
        if change.kind == kinds.EVENT:
            data = SystemEventSerializer(change.row).data
        else:
            data = _serializer(change.kind).to_representation(
                kinds.get(change.kind).model(**change.row)
            )
        body = JSONRenderer().render(data).decode()
        # The row's bytes as the API renders them, inside an envelope of plain values.
        return (
            f'{{"type":"{change.kind}","op":"{change.op}","position":{change.position},'
            f'"{change.kind}":{body}}}'
        )


def purge(position, start, before):
    """Every event with a timestamp from `start` up to `before` (ISO 8601) is gone: a partition
    of system_events was dropped."""
    field = serializers.DateTimeField()
    return json.dumps(
        {
            "type": "purge",
            "position": position,
            "from": field.to_representation(datetime.fromisoformat(start)),
            "before": field.to_representation(datetime.fromisoformat(before)),
        }
    )


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
