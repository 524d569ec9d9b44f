import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from .readahead import ReadAheadMixin
from .renderers import JSONRenderer
from .throttling import AnonRateThrottle, UserRateThrottle


@extend_schema(
    responses=inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
)
class ObtainTokenView(ObtainAuthToken):
    """`POST /api/auth/token` with a username and password returns that user's API token."""

    renderer_classes = [JSONRenderer]
    # The API's parsers, not DRF's own list: a body nested too deeply is a 400 here too.
    parser_classes = APIView.parser_classes
    # DRF's view disables throttling; a password endpoint is where it matters most.
    throttle_classes = [AnonRateThrottle, UserRateThrottle]


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


# Seconds a client is asked to wait after a 503: about the time a restarted PostgreSQL takes.
RETRY_AFTER_SECONDS = 5


def server_error(request):
    """Django's 500 handler: a 503 with Retry-After when the error is PostgreSQL being unreachable
    (no connection within the pool timeout, or one lost mid-request), else a 500. Either way Django
    has logged it with its traceback (django.request)."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_unavailable()
    return JsonResponse({"detail": "Server error."}, status=500)


def database_unavailable():
    response = JsonResponse(
        {"detail": "The database is unavailable. Try again shortly."}, status=503
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class CurrentUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class CurrentUserView(ReadAheadMixin, APIView):
    """`GET /api/auth/me`: the authenticated user, so a dashboard knows who it acts as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
