"""`/ws/events`: the live events stream's protocol (docs/api.md, "Live events")."""

import asyncio
import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from brain.websocket import authenticated_user, credential_checks, in_database_thread

from .stream import log, messages
from .stream.hub import READ_BATCH, hub
from .stream.subscription import (
    DEFAULT_STREAMS,
    Subscriber,
    filters_from_message,
    filters_from_query,
    streams_from,
)

# Seconds a socket cut off may take to send its resume message before it is closed without it.
CUT_OFF_GRACE_SECONDS = 1.0
AFTER_INVALID = "A position: an integer from 0, as a message's `position`."


class EventStreamConsumer(AsyncWebsocketConsumer):
    """Every committed change of an event that the subscription's filters match, and of the
    rows of the other streams it takes (`subscribe`) that the API shows its user, once, in
    position order, from `?after=<position>` (read from PostgreSQL, then live) or from now. The
    handshake needs the API's credentials (brain.websocket), checked again every
    brain.websocket.CHECK_SECONDS; a client that falls behind its buffer (EVENT_STREAM_BUFFER
    messages) is told where to resume and closed."""

    subscriber = None
    tasks = ()
    finished = False

    async def connect(self):
        user = await authenticated_user(self.scope)
        if user is None:
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        query_string = self.scope.get("query_string", b"").decode("latin-1")
        filters, errors, query = filters_from_query(
            query_string, extra=("after",), repeatable=("subscribe",)
        )
        streams = DEFAULT_STREAMS
        if "subscribe" in query:
            streams, stream_errors = streams_from(query.getlist("subscribe"))
            errors.update(stream_errors)
        after = None
        if "after" in query and "after" not in errors:
            value = query["after"]
            if value.isascii() and value.isdigit() and len(value) <= 18:
                after = int(value)
            else:
                errors["after"] = [AFTER_INVALID]
        await self.accept()
        if errors:
            await self.finish(messages.CLOSE_BAD_REQUEST, messages.error(errors))
            return
        self.subscriber = Subscriber(
            filters, settings.EVENT_STREAM_BUFFER, user=user, streams=streams
        )
        self.last = None
        self.tasks = [
            asyncio.create_task(self.stream(after)),
            asyncio.create_task(self.watch_cut_off()),
        ]
        credential_checks().watch(self.scope, self.credentials_checked)

    async def disconnect(self, code):
        self.finished = True
        self.stop()

    def stop(self):
        if self.subscriber is not None:
            hub().unsubscribe(self.subscriber)
            credential_checks().unwatch(self.scope, self.credentials_checked)
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()

    async def finish(self, code, text=None):
        """Sends `text` if given, then closes with `code`; once."""
        if self.finished:
            return
        self.finished = True
        self.stop()
        if text is not None:
            await self.send(text_data=text)
        await self.close(code)

    async def stream(self, after):
        """Catches up from PostgreSQL after `after`, then sends the live changes."""
        try:
            position = await hub().subscribe(self.subscriber)
            if after is not None and not await self.catch_up(after, position):
                return
            if after is None:
                self.last = position
                await self.send(text_data=self.subscribed_message(position))
            await self.send_live()
        except DatabaseError:
            code = messages.CLOSE_UNAVAILABLE
            await self.finish(code, messages.resume(self.last or after or 0, "unavailable"))

    async def catch_up(self, after, position):
        oldest, head = await in_database_thread(log.bounds)()
        if after < oldest or after > max(head, position):
            reason = "older than the oldest change kept" if after < oldest else "past the head"
            code = messages.CLOSE_GONE if after < oldest else messages.CLOSE_BAD_REQUEST
            error = messages.error({"after": [f"Position {after} is {reason} ({oldest}-{head})."]})
            await self.finish(code, error)
            return False
        self.last = after
        await self.send(text_data=self.subscribed_message(after))
        while self.last < position:
            until = min(position, self.last + READ_BATCH)
            for change in await in_database_thread(log.read)(after=self.last, until=until):
                message = messages.Message(change)
                if self.subscriber.wants(message):
                    await self.send(text_data=message.text)
            self.last = until
        return True

    async def send_live(self):
        queue = self.subscriber.queue
        while not self.subscriber.closed.is_set():
            message = await queue.get()
            if message is None or self.subscriber.closed.is_set():
                break
            if message.position <= self.last:
                continue  # seen already, read while catching up
            # Offered before the filters or streams last changed: checked again.
            if message.position > self.subscriber.recheck_until or self.subscriber.wants(message):
                await self.send(text_data=message.text)
            self.last = message.position
        await self.finish(self.subscriber.close_code, self.resume_message())

    def resume_message(self):
        reason = {
            messages.CLOSE_TOO_SLOW: "too slow",
            messages.CLOSE_UNAVAILABLE: "unavailable",
        }[self.subscriber.close_code]
        return messages.resume(self.last, reason)

    async def watch_cut_off(self):
        """Closes a socket that was cut off but cannot even send its resume message (a client
        that stopped reading): the sender is given CUT_OFF_GRACE_SECONDS, then stopped."""
        await self.subscriber.closed.wait()
        await asyncio.sleep(CUT_OFF_GRACE_SECONDS)
        if not self.finished:
            self.finished = True
            self.stop()
            await self.close(self.subscriber.close_code)

    def credentials_checked(self, user):
        """Closes the socket when its credentials are no longer valid; else `user` decides what
        it may see, as the API decides it now."""
        if user is None:
            self.tasks.append(asyncio.create_task(self.finish(messages.CLOSE_UNAUTHENTICATED)))
        else:
            self.subscriber.user = user

    async def receive(self, text_data=None, bytes_data=None):
        """`{"filters": {...}}` replaces the filters, `{"subscribe": [...]}` the streams (both
        may come in one message); anything else is an error message."""
        if self.subscriber is None:
            return
        try:
            data = json.loads(text_data) if text_data is not None else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data or not set(data) <= {"filters", "subscribe"}:
            expected = 'Expected {"filters": {...}} or {"subscribe": [...]}.'
            await self.send(text_data=messages.error({"message": [expected]}))
            return
        filters, streams, errors = self.subscriber.filters, self.subscriber.streams, {}
        if "filters" in data:
            filters, errors = filters_from_message(data["filters"])
        if "subscribe" in data and not errors:
            names = data["subscribe"]
            streams, errors = streams_from(names if isinstance(names, list) else [names])
        if errors:
            await self.send(text_data=messages.error(errors))
            return
        hub().change(self.subscriber, filters=filters, streams=streams)
        await self.send(text_data=self.subscribed_message(self.last))

    def subscribed_message(self, position):
        streams = sorted(self.subscriber.streams)
        return messages.subscribed(position, self.subscriber.filters.as_json(), streams)
