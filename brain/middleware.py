"""Project-wide middleware: request log and id, audit context, reads from replicas, body size
limit, optional trailing slash."""

import logging
import time
import uuid
from contextlib import nullcontext

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse
from rest_framework.permissions import SAFE_METHODS

from .context import client_ip, request_context, using_context
from .db import replicas

logger = logging.getLogger("brain.request")

REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"


def _request_ids(request):
    """(the request's id, the client's own id or "").

    The id is Brain's: a fresh one, so no client can make its audit records share another
    request's id. Behind trusted proxies (TRUSTED_PROXY_COUNT > 0), which set X-Request-ID
    themselves, the proxy's id is kept when it looks sane (at most 64 printable characters).
    Otherwise a sane X-Request-ID the client sent is kept apart, as its own correlation id."""
    given = request.META.get(REQUEST_ID_HEADER, "")
    if not (len(given) <= 64 and given.isprintable()):
        given = ""
    if given and settings.TRUSTED_PROXY_COUNT > 0:
        return given, ""
    return uuid.uuid4().hex, given


class Middleware:
    """Base of the project's middleware, the same code in sync and async stacks, with no thread
    between them (its hooks do no I/O that would hold an event loop). In order:
    `process_request(request)` may answer at once with a response; otherwise the rest of the stack
    runs inside the context manager `around(request)`; `process_response(request, response)` gets
    the response either way and returns the one to send."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        response = self.process_request(request)
        if response is None:
            with self.around(request):
                response = self.get_response(request)
        return self.process_response(request, response)

    async def _acall(self, request):
        response = self.process_request(request)
        if response is None:
            with self.around(request):
                response = await self.get_response(request)
        return self.process_response(request, response)

    def process_request(self, request):
        return None

    def around(self, request):
        return nullcontext()

    def process_response(self, request, response):
        return response


class RequestLogMiddleware(Middleware):
    """Gives every request an id (`request.request_id`, sent back as X-Request-ID; see
    _request_ids) and logs one line per request: method, path, status, duration, user, client
    address (brain.context.client_ip, the address throttles and audit records use too), request
    id and the client's own X-Request-ID when it sent one that Brain did not take."""

    def process_request(self, request):
        request.timer_start = time.perf_counter()
        request.request_id, request.client_request_id = _request_ids(request)

    def process_response(self, request, response):
        response["X-Request-ID"] = request.request_id
        # DRF authenticates inside the view and stores its user on the Django request too.
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - request.timer_start) * 1000, 2),
                "user": user.get_username() if user is not None and user.is_authenticated else None,
                "client_ip": client_ip(request, settings.TRUSTED_PROXY_COUNT),
                "request_id": request.request_id,
                "client_request_id": request.client_request_id or None,
            },
        )
        return response


class AuditContextMiddleware(Middleware):
    """Puts each request's audit context (user, client IP, user agent, request id) in the
    ContextVar that audit records read (brain.context), for the rest of the stack. Must come after
    RequestLogMiddleware, which sets `request.request_id`."""

    def around(self, request):
        return using_context(request_context(request))


class ReplicaMiddleware(Middleware):
    """Sends the reads of a request that may read from a replica to one, and pins a client that
    wrote to the primary (brain.db.replicas). Does nothing without DATABASE_REPLICAS."""

    def around(self, request):
        if not settings.DATABASE_REPLICAS:
            return super().around(request)
        request.database_reads = replicas.request_reads(request)
        return replicas.reading(request.database_reads)

    def process_response(self, request, response):
        reads = getattr(request, "database_reads", None)
        if reads is not None and (reads.wrote or request.method not in SAFE_METHODS):
            replicas.pin_client(request, response)
        return response


class BodySizeLimitMiddleware(Middleware):
    """Answers 413 in JSON when the declared body is larger than its limit (body_limit), before
    anything reads it, and 411 when the body has no declared length (Transfer-Encoding: chunked):
    Django reads a body of the length Content-Length declares, so an undeclared one would be read
    as empty."""

    def process_request(self, request):
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(
                {
                    "detail": (
                        "Length required: send the body with a Content-Length header "
                        "(chunked transfer encoding is not accepted)."
                    )
                },
                status=411,
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        limit = body_limit(request)
        if length > limit:
            return payload_too_large_response(limit)
        return None


def body_limit(request):
    """The largest body the request may have (body_limit_for_type)."""
    return body_limit_for_type(request.content_type)


def body_limit_for_type(content_type):
    """The largest body of `content_type` (its media type, no parameters): REQUEST_MAX_NDJSON_BYTES
    for NDJSON (read by its parser as a stream), REQUEST_MAX_BODY_BYTES otherwise."""
    if content_type == "application/x-ndjson":
        return settings.REQUEST_MAX_NDJSON_BYTES
    return settings.REQUEST_MAX_BODY_BYTES


def payload_too_large_body(limit):
    return {"detail": f"Request body too large: the limit is {limit} bytes."}


def payload_too_large_response(limit=None):
    limit = settings.REQUEST_MAX_BODY_BYTES if limit is None else limit
    return JsonResponse(payload_too_large_body(limit), status=413)


class OptionalTrailingSlashMiddleware(Middleware):
    """Serves every /api/ and /health/ path with and without a trailing slash, without a
    redirect.

    Those routes are declared without the slash; a request for
    `/api/events/` is routed as `/api/events`. No redirect means a POST never loses its body.
    """

    PREFIXES = ("/api/", "/health/")

    def process_request(self, request):
        path = request.path_info
        if path.endswith("/") and path.startswith(self.PREFIXES) and path not in self.PREFIXES:
            request.path_info = path.rstrip("/")
