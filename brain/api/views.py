from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken import serializers as authtoken_serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from .query import NonEmptyQueryParametersMixin
from .readahead import ReadAheadMixin
from .renderers import JSONRenderer
from .strict import StrictInputMixin
from .throttling import AnonRateThrottle, UserRateThrottle


class AuthTokenSerializer(StrictInputMixin, authtoken_serializers.AuthTokenSerializer):
    """A username and password (strings), and nothing else."""


@extend_schema(
    request=AuthTokenSerializer,
    responses=inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
)
class ObtainTokenView(ObtainAuthToken):
    """`POST /api/auth/token` with a username and password returns that user's API token."""

    serializer_class = AuthTokenSerializer
    renderer_classes = [JSONRenderer]
    # The API's parsers (JSON only), not DRF's own list, which takes forms too.
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


class CurrentUserView(NonEmptyQueryParametersMixin, ReadAheadMixin, APIView):
    """`GET /api/auth/me`: the authenticated user, so a dashboard knows who it acts as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
