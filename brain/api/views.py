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


def server_error(request):
    return JsonResponse({"detail": "Server error."}, status=500)


class CurrentUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class CurrentUserView(ReadAheadMixin, APIView):
    """`GET /api/auth/me`: the authenticated user, so a dashboard knows who it acts as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
