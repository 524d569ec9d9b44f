"""The application gunicorn serves (brain/gunicorn.conf.py, gunicorn's own ASGI worker): the
WebSockets (`/ws/...`, the apps' `routing.websocket_urlpatterns`, named by dotted string as the
URLconf names the apps' urls) and every HTTP request, the latter through Django's WSGI handler
(asgiref's WsgiToAsgi), each request on one thread of WEB_THREADS kept per worker: the whole
middleware chain runs on that thread as under a sync worker, where Django's ASGI handler would
switch threads around each sync middleware (docs/operations.md, "Serving": the figures)."""

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
wsgi_application = get_wsgi_application()  # sets Django up before the routes are imported

from asgiref.sync import ThreadSensitiveContext  # noqa: E402
from asgiref.wsgi import WsgiToAsgi  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from brain.middleware import body_limit_for_type, payload_too_large_body  # noqa: E402
from brain.websocket import SessionCredentialsMiddleware  # noqa: E402


class BodyTooLarge(Exception):
    pass


class WsgiRequests:
    """Every HTTP request through `wsgi_application` (WsgiToAsgi), up to `threads` at once per
    worker, each on a thread of its own (one of `threads` kept ones, given to the request's
    ThreadSensitiveContext): a long request (a maximal NDJSON bulk) holds one thread, not the
    worker. More requests wait for a thread, never for a pooled database connection (keep
    `threads` below DATABASE_POOL_MAX_SIZE). WsgiToAsgi receives a body whole (spooled to a
    temporary file past 64 KiB) before Django sees it, so a body past its limit
    (brain.middleware.body_limit_for_type) is answered 413 here, as soon as its Content-Length or
    the bytes received so far show it, and never stored whole."""

    def __init__(self, wsgi_application, *, threads):
        self.application = WsgiToAsgi(wsgi_application)
        self.threads = asyncio.Queue()
        for _ in range(threads):
            self.threads.put_nowait(ThreadPoolExecutor(max_workers=1))

    async def __call__(self, scope, receive, send):
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        limit = body_limit_for_type(content_type.decode("latin-1"))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self.too_large(send, limit)
            return
        received = 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        thread = await self.threads.get()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.application(scope, receive_within_limit, send)
        except BodyTooLarge:
            await self.too_large(send, limit)
        finally:
            self.threads.put_nowait(thread)

    @staticmethod
    async def too_large(send, limit):
        body = json.dumps(payload_too_large_body(limit)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": WsgiRequests(wsgi_application, threads=int(os.environ.get("WEB_THREADS", "4"))),
        "websocket": SessionCredentialsMiddleware(
            URLRouter(import_string("events.routing.websocket_urlpatterns"))
        ),
    }
)
