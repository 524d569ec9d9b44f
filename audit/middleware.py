"""Puts each request's audit context (user, client IP, user agent, request id) in the ContextVar
that audit records read. Sync and async."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .context import request_context, using_context


class AuditContextMiddleware:
    """Must come after brain.middleware.RequestLogMiddleware, which sets `request.request_id`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        with using_context(request_context(request)):
            return self.get_response(request)

    async def _acall(self, request):
        with using_context(request_context(request)):
            return await self.get_response(request)
