"""The root page: where to go from `/`, for a person in a browser (HTML) or a client (JSON)."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

# The live events stream: a WebSocket route (Channels), which Django's reverse() does not know.
EVENTS_STREAM = "/ws/events"


def links():
    """The API reference, the operator console, the health endpoints and the live events
    stream, by name."""
    return {
        "api_docs": reverse("swagger-ui"),
        "api_redoc": reverse("redoc"),
        "api_schema": reverse("schema"),
        "admin": reverse("admin:index"),
        "events_dashboard": reverse("events-dashboard"),
        "health_live": reverse("health-live"),
        "health_ready": reverse("health-ready"),
        "health_scheduler": reverse("health-scheduler"),
        "events_stream": EVENTS_STREAM,
    }


@csrf_exempt  # reads only: a POST is a 405, not a CSRF failure
@require_safe
def index(request):
    """Public; no I/O. HTML when the client prefers it to JSON (a browser), JSON otherwise."""
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        response = render(request, "brain/index.html", {"links": links()})
    else:
        response = JsonResponse({"name": "Brain", "links": links()})
    patch_vary_headers(response, ["Accept"])
    return response
