"""A process's one reader of the change log, and its fan-out to the process's sockets.

While a socket of the process is subscribed, the hub stamps the committed changes and reads the
new ones in position order (events.stream.log), and offers each change's message to its
subscribers (events.stream.subscription), grouped by what they take (the same filters, streams and
user): whether a group takes a change is decided once for the group, and the message is rendered
once, when a socket first sends it (a change no socket takes is never rendered), every socket
sending the same text. A full buffer cuts that subscriber off, never the hub or the others. It
reads when a write of events wakes it, through Redis (the events cache's invalidation after every
commit publishes to EVENTS_CHANGED_CHANNEL), and every POLL_SECONDS besides, which covers the
other kinds' changes, plain SQL and a Redis that is down: the stream never depends on Redis. A
running hub prunes the change log every PRUNE_SECONDS (events.services.event_changes_prune).
"""

import asyncio
import logging
import time
import weakref

import redis
from django.core.cache import cache
from django.db import DatabaseError

import brain.redis
from brain.websocket import in_database_thread
from events.cache import EVENTS_CHANGED_CHANNEL
from events.services import event_changes_prune

from . import log
from .messages import CLOSE_UNAVAILABLE, Message
from .subscription import wanted

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# Positions read at once: a reader holds at most about this many events (plus one change).
READ_BATCH = 2000
# Seconds between two attempts to reach PostgreSQL or Redis after a failure.
RETRY_SECONDS = 1.0
# Seconds between two prunings of the change log by a running hub (events.services).
PRUNE_SECONDS = 600


def _read_new(after):
    """Stamps what committed since, then reads the changes after `after`, READ_BATCH positions
    at most: (changes, the last position read, whether it is the head)."""
    head = log.stamp()
    until = min(head, after + READ_BATCH)
    return log.read(after=after, until=until), until, until == head


class Hub:
    """The reader of one process (`hub()`): started by the first subscriber, idle when the last
    one leaves."""

    def __init__(self):
        self.groups = {}  # Subscriber.key -> the subscribers of that key
        self.position = None  # the last position offered to the subscribers
        self.wake = asyncio.Event()
        self.started = asyncio.Event()
        self.task = None
        self.listener = None

    async def subscribe(self, subscriber):
        """Adds `subscriber` and returns the position after which it is offered every change."""
        if self.task is None or self.task.done():
            self.started.clear()
            self.task = asyncio.create_task(self.run(), name="events-stream-hub")
        await self.started.wait()
        self.groups.setdefault(subscriber.key, set()).add(subscriber)
        return self.position

    def unsubscribe(self, subscriber):
        group = self.groups.get(subscriber.key)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self.groups[subscriber.key]

    def change(self, subscriber, *, filters, streams):
        """Gives `subscriber` new filters and streams, moving it to the group of its new key; what
        it was offered before is to be checked again by its sender (Subscriber.recheck_until)."""
        subscribed = subscriber in self.groups.get(subscriber.key, ())
        if subscribed:
            self.unsubscribe(subscriber)
        subscriber.recheck_until = self.position or 0
        subscriber.filters, subscriber.streams = filters, streams
        if subscribed:
            self.groups.setdefault(subscriber.key, set()).add(subscriber)

    async def run(self):
        self.listener = asyncio.create_task(self.listen(), name="events-stream-wake")
        pruned_at = time.monotonic()
        try:
            while True:
                try:
                    if time.monotonic() - pruned_at > PRUNE_SECONDS:
                        pruned_at = time.monotonic()
                        await in_database_thread(event_changes_prune)()
                    await self.catch_up()
                except DatabaseError:
                    logger.warning("events stream: PostgreSQL unreadable", exc_info=True)
                    self.fail()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if self.started.is_set() and not self.groups:
                    return  # the last subscriber left; the next one starts a new reader
                self.started.set()
                try:
                    await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
                self.wake.clear()
        finally:
            self.listener.cancel()
            self.position = None

    async def catch_up(self):
        """Offers every change stamped since the last one offered (from the head at start)."""
        while True:
            if self.position is None:
                self.position = await in_database_thread(log.stamp)()
                return
            changes, until, reached = await in_database_thread(_read_new)(self.position)
            for change in changes:
                message = Message(change)
                for group in list(self.groups.values()):
                    some = next(iter(group))
                    if wanted(message, filters=some.filters, streams=some.streams, user=some.user):
                        for subscriber in list(group):
                            subscriber.offer(message)
            self.position = until
            if reached:
                return
            await asyncio.sleep(0)  # let the sockets send before the next batch

    def fail(self):
        """Cuts every subscriber off: changes could not be read (each socket is closed with a
        resume message; they catch up from PostgreSQL when they reconnect)."""
        for group in list(self.groups.values()):
            for subscriber in group:
                subscriber.cut_off(CLOSE_UNAVAILABLE)
        self.groups.clear()

    async def listen(self):
        """Sets `wake` on every message of EVENTS_CHANGED_CHANNEL; reconnects after a failure."""
        channel = cache.make_key(EVENTS_CHANGED_CHANNEL)
        while True:
            try:
                async with brain.redis.subscribed(channel) as pubsub:
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self.wake.set()
            except (redis.RedisError, OSError):
                logger.warning("events stream: no wake-ups from Redis", exc_info=True)
            await asyncio.sleep(RETRY_SECONDS)


_hubs = weakref.WeakKeyDictionary()


def hub():
    """The hub of the running event loop: one per ASGI worker process."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]
