"""One socket's subscription: the streams it takes (events, and the registered kinds'), its
events' filters, validated as the event list's, its user, and its bounded buffer."""

import asyncio
from dataclasses import dataclass

from django.http import QueryDict

from brain.api.query import (
    EMPTY_PARAMETER,
    REPEATED_PARAMETER,
    UNKNOWN_PARAMETER,
    repeatable_filters,
)
from events.filters import EventFilter
from events.models import SystemEvent

from . import kinds
from .messages import CLOSE_TOO_SLOW

FILTER_NAMES = ("event_type", "severity", "source")
# The filters that take several values (severity), as on the list.
REPEATABLE = repeatable_filters(EventFilter)
EVENTS = "events"  # the stream of system events
DEFAULT_STREAMS = frozenset({EVENTS})  # what a socket takes unless it names its streams


@dataclass(frozen=True)
class Filters:
    """The list's filters a subscription takes: one type, one or several severities, one source;
    an empty one matches every event."""

    event_type: str | None = None
    severities: frozenset = frozenset()
    source: str | None = None

    def matches(self, message):
        return (
            (self.event_type is None or message.event_type == self.event_type)
            and (not self.severities or message.severity in self.severities)
            and (self.source is None or message.source == self.source)
        )

    def as_json(self):
        given = {"event_type": self.event_type, "source": self.source}
        given = {name: value for name, value in given.items() if value is not None}
        if self.severities:
            given["severity"] = sorted(self.severities)
        return given


def _validated(query, known, *, others=()):
    """Filters from a QueryDict, checked by the event list's FilterSet; or {name: [messages]}.
    Only the REPEATABLE filters take several values. `others`: the names besides `known` that
    the source of `query` takes, listed as known in the error for an unknown name."""
    errors = {}
    for name, values in query.lists():
        if name not in known:
            errors[name] = [UNKNOWN_PARAMETER.format(known=", ".join([*known, *others]))]
        elif any(value == "" for value in values):
            errors[name] = [EMPTY_PARAMETER]
        elif len(values) > 1 and name not in REPEATABLE:
            errors[name] = [REPEATED_PARAMETER.format(count=len(values))]
    if errors:
        return None, errors
    filterset = EventFilter(
        {name: query.getlist(name) if name in REPEATABLE else query[name] for name in query},
        queryset=SystemEvent.objects.none(),
    )
    form = filterset.form
    if not form.is_valid():
        return None, {name: list(messages) for name, messages in form.errors.items()}
    data = form.cleaned_data
    return (
        Filters(
            event_type=data.get("event_type") or None,
            severities=frozenset(data.get("severity") or ()),
            source=data.get("source") or None,
        ),
        {},
    )


def filters_from_query(query_string, *, extra=(), repeatable=()):
    """(Filters, {name: [messages]}) of a handshake's query string; `extra` names the other
    parameters it may hold once (`after`), `repeatable` those it may repeat (`subscribe`), both
    returned in the QueryDict as given."""
    query = QueryDict(query_string)
    filters_only = query.copy()
    for name in (*extra, *repeatable):
        filters_only.pop(name, None)
    filters, errors = _validated(filters_only, FILTER_NAMES, others=(*extra, *repeatable))
    for name in extra:
        values = query.getlist(name)
        if len(values) > 1:
            errors[name] = [REPEATED_PARAMETER.format(count=len(values))]
        elif values == [""]:
            errors[name] = [EMPTY_PARAMETER]
    return filters, errors, query


def stream_names():
    """What a socket may subscribe to: `events` and each registered kind's stream."""
    return [EVENTS, *(kind.stream for kind in kinds.registered())]


def streams_from(values):
    """(frozenset of stream names, {"subscribe": [messages]}) of the names a client gave, in a
    handshake's repeated `subscribe` or in a message's list."""
    known = stream_names()
    if not values:
        return None, {"subscribe": [f"Name at least one stream: {', '.join(known)}."]}
    if not all(isinstance(value, str) for value in values):
        return None, {"subscribe": ["Expected strings."]}
    if "" in values:
        return None, {"subscribe": [EMPTY_PARAMETER]}
    unknown = [value for value in values if value not in known]
    if unknown:
        message = f'"{unknown[0]}" is not a stream. Streams: {", ".join(known)}.'
        return None, {"subscribe": [message]}
    return frozenset(values), {}


def filters_from_message(data):
    """(Filters, {name: [messages]}) of a client's `{"filters": {...}}` message: each filter a
    string, `severity` a string or a list of strings."""
    if not isinstance(data, dict):
        return None, {"filters": ["Expected a JSON object of filters."]}
    query = QueryDict(mutable=True)
    errors = {}
    for name, value in data.items():
        values = value if name == "severity" and isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            errors[name] = ["Expected a string." if name != "severity" else "Expected strings."]
        else:
            query.setlist(name, values)
    if errors:
        return None, errors
    return _validated(query, FILTER_NAMES)


def wanted(message, *, filters, streams, user):
    """Whether a subscription of `filters` and `streams` by `user` takes `message`: an event its
    filters match, or a purge of events (whatever the filters), on the events stream; another
    kind's change on that kind's stream, of a row `user` may see (the kind's `visible` rule, the
    API's)."""
    if message.kind == kinds.EVENT:
        return EVENTS in streams and (message.purge or filters.matches(message))
    kind = kinds.get(message.kind)
    return kind.stream in streams and kind.visible(user=user, owner_id=message.owner_id)


class Subscriber:
    """A socket's place in its process's hub (events.stream.hub): the messages it wants, in
    order, at most `buffer` waiting. One more marks it overflowed, and it is given no more: a
    client that falls behind is told to resume, never waited for. `user` is who the socket
    authenticated as (renewed at each check of its credentials). The hub offers it what its
    group (`key`: the same filters, streams and user) takes; the messages it was offered up to
    `recheck_until`, before its filters or streams last changed, are to be checked again."""

    def __init__(self, filters, buffer, *, user, streams):
        self.filters = filters
        self.streams = streams
        self.user = user
        self.queue = asyncio.Queue(buffer)
        self.closed = asyncio.Event()
        self.close_code = None
        self.recheck_until = 0

    @property
    def key(self):
        return (self.filters, self.streams, self.user.pk)

    def wants(self, message):
        """Whether `message` is for this socket, by its own filters, streams and user."""
        return wanted(message, filters=self.filters, streams=self.streams, user=self.user)

    def offer(self, message):
        """Queues `message` (one its group takes); never waits."""
        if self.closed.is_set():
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.cut_off(CLOSE_TOO_SLOW)

    def cut_off(self, code):
        """Offers nothing more: the socket is to be closed with `code` (events.stream.messages),
        after a resume message."""
        if not self.closed.is_set():
            self.close_code = code
            self.closed.set()
            try:
                self.queue.put_nowait(None)  # wakes a sender waiting for a message
            except asyncio.QueueFull:
                pass  # its sender is not waiting
