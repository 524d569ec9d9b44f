"""The ASGI application: the WebSockets (`/ws/...`, the apps' `routing.websocket_urlpatterns`,
named by dotted string as the URLconf names the apps' urls) and, for any HTTP request that
reaches it, Django's ASGI handler. brain/gunicorn.conf.py serves HTTP with WSGI and the
WebSockets with this, on one port (docs/operations.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
http_application = get_asgi_application()  # sets Django up before the routes are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from brain.websocket import SessionCredentialsMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": SessionCredentialsMiddleware(
            URLRouter(import_string("events.routing.websocket_urlpatterns"))
        ),
    }
)
