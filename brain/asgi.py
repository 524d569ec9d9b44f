"""The application gunicorn serves (brain/gunicorn.conf.py, gunicorn's own ASGI worker): the
WebSockets (`/ws/...`, the apps' `routing.websocket_urlpatterns`, named by dotted string as the
URLconf names the apps' urls) and every HTTP request, the latter through Django's WSGI handler on
one thread of the worker (asgiref's WsgiToAsgi): the whole middleware chain runs as under a sync
worker, where Django's ASGI handler would switch threads around each sync middleware
(docs/operations.md, "Serving": the figures)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
wsgi_application = get_wsgi_application()  # sets Django up before the routes are imported

from asgiref.wsgi import WsgiToAsgi  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from brain.websocket import SessionCredentialsMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WsgiToAsgi(wsgi_application),
        "websocket": SessionCredentialsMiddleware(
            URLRouter(import_string("events.routing.websocket_urlpatterns"))
        ),
    }
)
