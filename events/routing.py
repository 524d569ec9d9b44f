from django.urls import re_path

from .consumers import EventStreamConsumer

# Served by the ASGI application (brain/asgi.py); with or without a trailing slash, as the API.
websocket_urlpatterns = [re_path(r"^ws/events/?$", EventStreamConsumer.as_asgi())]
