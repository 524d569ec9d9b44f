"""Helpers of the live stream's tests: a client of /ws/events on the ASGI application, in the
test's own event loop, and writes run from it in a thread with a connection of their own."""

import asyncio
import json

from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connections

from brain.asgi import application

WAIT = 15  # seconds any one message may take: a bound for a stuck test, never a measure


def in_thread(function, *args, **kwargs):
    """Awaitable: `function(*args, **kwargs)` in a thread of its own (the ORM is sync), its
    database connections closed after."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(call, thread_sensitive=False)()


class StreamClient:
    """One socket on /ws/events (`query` is its query string)."""

    def __init__(self, query="", *, token=None, headers=()):
        headers = list(headers)
        if token is not None:
            headers.append((b"authorization", f"Token {token}".encode()))
        scope = {
            "type": "websocket",
            "path": "/ws/events",
            "query_string": query.encode(),
            "headers": headers,
            "client": ["127.0.0.1", 50000],
            "subprotocols": [],
        }
        self.communicator = ApplicationCommunicator(application, scope)

    async def connect(self):
        """(accepted, close code or None): a refused handshake is (False, 403)."""
        await self.communicator.send_input({"type": "websocket.connect"})
        output = await self.communicator.receive_output(timeout=WAIT)
        if output["type"] == "websocket.close":
            return False, 403
        return output["type"] == "websocket.accept", None

    async def receive(self):
        """The next message, parsed; a close is {"close": code}."""
        output = await self.communicator.receive_output(timeout=WAIT)
        if output["type"] == "websocket.close":
            return {"close": output.get("code")}
        return json.loads(output["text"])

    async def events(self, count):
        """The next `count` messages, each an event's."""
        received = [await self.receive() for _ in range(count)]
        assert [message.get("type") for message in received] == ["event"] * count, received
        return received

    async def send(self, data):
        await self.communicator.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def close(self):
        await self.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.communicator.wait(timeout=WAIT)


def run(scenario):
    """Runs the coroutine function `scenario` to its end in an event loop of its own."""
    return asyncio.run(scenario())
