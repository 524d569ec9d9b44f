import logging
import sys
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.authtoken import serializers as authtoken_serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from brain import invalidation, redis
from brain.context import client_ip
from brain.db.timeouts import StatementTimeout
from brain.login_failures import login_block_seconds, login_failure_record

from .authentication import request_token, token_cache_key
from .query import QueryParametersMixin
from .readahead import NOTHING, ReadAhead
from .renderers import JSONRenderer
from .strict import StrictInputMixin
from .throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class ReadAheadMixin:
    """Base of the project's API views: reads ahead, in one Redis round trip, the request's
    token lookup, its rate-limit counter and the cached body keys the view names."""

    def read_ahead_keys(self, request, *args, **kwargs) -> list[str]:
        """The cache keys of the body this request will serve (none by default)."""
        return []

    def initial(self, request, *args, **kwargs):
        request.read_ahead = self._read_ahead(
            request, self.read_ahead_keys(request, *args, **kwargs)
        )
        super().initial(request, *args, **kwargs)

    def _read_ahead(self, request, body_keys):
        token = request_token(request)
        if token is None:
            if not body_keys:
                return NOTHING
            values = cache.get_many([*body_keys, invalidation.LEASE_KEY])
            return ReadAhead(
                lease=values.pop(invalidation.LEASE_KEY, None) is not None,
                body_keys=tuple(body_keys),
                values=values,
            )
        counter = next(
            (
                throttle.token_counter(token)
                for throttle in self.get_throttles()
                if isinstance(throttle, UserRateThrottle)
            ),
            None,
        )
        counter_key, ttl = counter or ("", 0)
        token_key = token_cache_key(token)
        keys = [token_key, counter_key, invalidation.LEASE_KEY, *body_keys]
        try:
            lookup, count, lease, values = redis.run(
                redis.READ_AHEAD, keys=[cache.make_key(key) for key in keys], args=[ttl]
            )
        except (RedisError, OSError):
            logger.warning("read-ahead skipped, Redis unreachable", exc_info=True)
            return NOTHING
        decode = cache.client.decode
        return ReadAhead(
            token_key=token_key,
            lookup=None if lookup is None else decode(lookup),
            lease=bool(lease),
            counter_key=counter_key if count is not None else None,
            count=count,
            body_keys=tuple(body_keys),
            values={
                key: decode(value) for key, value in zip(body_keys, values) if value is not None
            },
        )


class ReadStatementTimeoutMixin:
    """Runs a read (GET, HEAD, OPTIONS) with API_READ_STATEMENT_TIMEOUT on each of its
    statements (brain.db.timeouts): a read PostgreSQL cancels answers 503 (server_error). A read
    answered from the cache runs no query and pays nothing."""

    def dispatch(self, request, *args, **kwargs):
        seconds = settings.API_READ_STATEMENT_TIMEOUT
        if request.method not in SAFE_METHODS or not seconds:
            return super().dispatch(request, *args, **kwargs)
        with StatementTimeout(seconds):
            return super().dispatch(request, *args, **kwargs)


class ProjectAPIMixin(QueryParametersMixin, ReadStatementTimeoutMixin, ReadAheadMixin):
    """Base of every API view of the project: the read-ahead (one Redis round trip before
    authentication), the rules for query parameters (an unknown one or an empty value is a 400)
    and the statement timeout of reads."""


class AuthTokenSerializer(StrictInputMixin, authtoken_serializers.AuthTokenSerializer):
    """A username and password (strings), and nothing else."""


@extend_schema(
    request=AuthTokenSerializer,
    responses=inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
)
class ObtainTokenView(QueryParametersMixin, ObtainAuthToken):
    """`POST /api/auth/token` with a username and password returns that user's API token.

    Past a failed-login limit it shares with the admin's login (brain.login_failures) it answers
    429 with Retry-After before checking the password; credentials it refuses count as a
    failure."""

    serializer_class = AuthTokenSerializer
    renderer_classes = [JSONRenderer]
    # The API's parsers (JSON only), not DRF's own list, which takes forms too.
    parser_classes = APIView.parser_classes
    # DRF's view disables throttling; a password endpoint is where it matters most.
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if isinstance(request.data, Mapping) else None
        username = username if isinstance(username, str) else None
        address = client_ip(request, settings.TRUSTED_PROXY_COUNT)
        seconds = login_block_seconds(username=username, address=address)
        if seconds:
            raise Throttled(
                wait=seconds,
                detail="Too many failed logins for this username or from this address.",
            )
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError as error:
            # The serializer's one error of its own: authenticate() refused the credentials.
            if error.get_codes() == {api_settings.NON_FIELD_ERRORS_KEY: ["authorization"]}:
                login_failure_record(username=username, address=address)
            raise


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


# Seconds a client is asked to wait after a 503: about the time a restarted PostgreSQL takes.
RETRY_AFTER_SECONDS = 5
# PostgreSQL cancelled the statement: past its statement timeout (or cancelled by an operator).
QUERY_CANCELED = "57014"
# SQLSTATEs of a request PostgreSQL gave up on while it was up: a serialization failure, a
# deadlock, a lock wait or a statement past its timeout. Its transaction was rolled back, and the
# same request sent again can succeed at once.
GAVE_UP_SQLSTATES = {"40001", "40P01", "55P03", "57014"}


def server_error(request):
    """Django's 500 handler: a 503 with Retry-After when the error is PostgreSQL's, either giving
    up on this request (deadlock, serialization failure, lock or statement timeout: retry now; a
    read past its statement timeout: narrow it or retry later) or unreachable (no connection
    within the pool timeout, or one lost mid-request), else a 500. Either way Django has logged
    it with its traceback (django.request)."""
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return JsonResponse({"detail": "Server error."}, status=500)
    # Django keeps the driver's exception as __cause__ (PEP 3134); psycopg's names its SQLSTATE.
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate == QUERY_CANCELED and request.method in SAFE_METHODS:
        # The same read would run as long again: retrying at once does not help.
        return _service_unavailable(
            "The database gave up on this request: reading it took longer than an API read may. "
            "Narrow it (filters, a time range) or try again later.",
            retry_after=RETRY_AFTER_SECONDS,
        )
    if sqlstate in GAVE_UP_SQLSTATES:
        return _service_unavailable(
            "The database gave up on this request (a conflict with another request or a "
            "timeout) and rolled its transaction back. Try again.",
            retry_after=1,
        )
    return _service_unavailable(
        "The database is unavailable. Try again shortly.", retry_after=RETRY_AFTER_SECONDS
    )


def _service_unavailable(detail, *, retry_after):
    response = JsonResponse({"detail": detail}, status=503)
    response["Retry-After"] = str(retry_after)
    return response


class CurrentUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class CurrentUserView(ProjectAPIMixin, APIView):
    """`GET /api/auth/me`: the authenticated user, so a dashboard knows who it acts as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
