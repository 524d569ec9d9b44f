"""The project's middleware answers the same in an async stack as in a sync one."""

import asyncio
import json
import logging

from django.http import JsonResponse
from django.test import RequestFactory

from brain.middleware import (
    BodySizeLimitMiddleware,
    OptionalTrailingSlashMiddleware,
    RequestLogMiddleware,
)


async def view(request):
    return JsonResponse({"path": request.path_info})


def test_an_async_stack_gives_request_ids_serves_the_slash_and_refuses_large_bodies(
    settings, caplog
):
    settings.REQUEST_MAX_BODY_BYTES = 10
    stack = RequestLogMiddleware(BodySizeLimitMiddleware(OptionalTrailingSlashMiddleware(view)))
    factory = RequestFactory()

    with caplog.at_level(logging.INFO, logger="brain.request"):
        slashed = asyncio.run(stack(factory.get("/api/events/")))
        large = asyncio.run(
            stack(factory.post("/api/events", b"x" * 11, content_type="application/json"))
        )

    assert (slashed.status_code, json.loads(slashed.content)) == (200, {"path": "/api/events"})
    assert (large.status_code, json.loads(large.content)) == (
        413,
        {"detail": "Request body too large: the limit is 10 bytes."},
    )
    assert [
        (record.status, record.request_id)
        for record in caplog.records
        if record.name == "brain.request"
    ] == [(200, slashed["X-Request-ID"]), (413, large["X-Request-ID"])]
