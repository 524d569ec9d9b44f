import sys
from collections.abc import Mapping
from contextlib import ExitStack

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, status
from rest_framework.authtoken import serializers as authtoken_serializers
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from brain.context import client_ip
from brain.db.replicas import replica_alias
from brain.db.timeouts import StatementTimeout
from brain.login_failures import login_block_seconds, login_failure_record, login_success_record
from brain.models import APIToken, TokenScope
from brain.tokens import TOKEN_MAX_SECONDS, token_create, token_revoke, token_revoke_all

from .query import QueryParametersMixin
from .renderers import JSONRenderer
from .strict import StrictInputMixin
from .throttling import AnonRateThrottle, UserRateThrottle


class ReadStatementTimeoutMixin:
    """Runs a read (GET, HEAD, OPTIONS) with API_READ_STATEMENT_TIMEOUT on each of its
    statements (brain.db.timeouts), on the primary and on the replica it reads from: a read
    PostgreSQL cancels answers 503 (server_error). A read answered from the cache runs no query
    and pays nothing."""

    def dispatch(self, request, *args, **kwargs):
        seconds = settings.API_READ_STATEMENT_TIMEOUT
        if request.method not in SAFE_METHODS or not seconds:
            return super().dispatch(request, *args, **kwargs)
        with ExitStack() as timeouts:
            timeouts.enter_context(StatementTimeout(seconds))
            if replica := replica_alias():
                timeouts.enter_context(StatementTimeout(seconds, using=replica))
            return super().dispatch(request, *args, **kwargs)


class ProjectAPIMixin(QueryParametersMixin, ReadStatementTimeoutMixin):
    """Base of every API view of the project: the rules for query parameters (an unknown one or
    an empty value is a 400), the statement timeout of reads, and the scope of the request's API
    token (after the view's own permissions): a `read` token may only read (GET, HEAD,
    OPTIONS), an `ingest` token only what `allows_ingest` allows; else a 403."""

    def allows_ingest(self, request):
        """Whether an `ingest` token may make this request (one that creates events); False
        unless a view says otherwise."""
        return False

    def check_permissions(self, request):
        super().check_permissions(request)
        token = request.auth
        if not isinstance(token, APIToken) or token.scope == TokenScope.FULL:
            return
        if token.scope == TokenScope.READ:
            allowed = request.method in SAFE_METHODS
        else:
            allowed = self.allows_ingest(request)
        if not allowed:
            self.permission_denied(
                request, message=f"This API token's scope ({token.scope}) does not allow this."
            )


class AuthTokenSerializer(StrictInputMixin, authtoken_serializers.AuthTokenSerializer):
    """A username and password (strings), and optionally the new token's name, scope and
    lifetime in seconds; nothing else."""

    name = serializers.CharField(
        required=False, allow_blank=True, max_length=APIToken._meta.get_field("name").max_length
    )
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.FULL)
    expires_in = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=TOKEN_MAX_SECONDS,
        help_text="Seconds the token lives, at most the server's TOKEN_TTL when that is set; "
        "without it, TOKEN_TTL, or no expiry.",
    )

    def validate_expires_in(self, value):
        if settings.TOKEN_TTL is not None and value > settings.TOKEN_TTL:
            raise ValidationError(
                f"Ensure this value is less than or equal to {settings.TOKEN_TTL}."
            )
        return value


class AuthTokenView(QueryParametersMixin, APIView):
    """`POST /api/auth/token` with a username and password returns a new API token of that user
    (its key, shown this once), with the name, scope and lifetime the request names.
    `DELETE /api/auth/token` revokes the API token the request authenticates with, whatever its
    scope (204); a request authenticated by a session has none to revoke (400)."""

    serializer_class = AuthTokenSerializer
    renderer_classes = [JSONRenderer]
    # DRF's login view disables throttling; a password endpoint is where it matters most.
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    def get_permissions(self):
        if self.request.method == "POST":  # the credentials are the body's
            return []
        return super().get_permissions()

    @extend_schema(
        auth=[],
        request=AuthTokenSerializer,
        responses=inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
    )
    def post(self, request, *args, **kwargs):
        """A new API token of the user whose username and password the body holds (its key,
        shown this once), with the name, scope and lifetime the body names.

        Past a failed-login limit it shares with the admin's login (brain.login_failures) it
        answers 429 with Retry-After before checking the password; credentials it refuses count
        as a failure, and credentials it accepts clear their username's failures from this
        address."""
        username = request.data.get("username") if isinstance(request.data, Mapping) else None
        username = username if isinstance(username, str) else None
        address = client_ip(request, settings.TRUSTED_PROXY_COUNT)
        seconds = login_block_seconds(username=username, address=address)
        if seconds:
            raise Throttled(
                wait=seconds,
                detail="Too many failed logins for this username or from this address.",
            )
        serializer = self.serializer_class(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError as error:
            # The serializer's one error of its own: authenticate() refused the credentials.
            if error.get_codes() == {api_settings.NON_FIELD_ERRORS_KEY: ["authorization"]}:
                login_failure_record(username=username, address=address)
            raise
        data = serializer.validated_data
        # The credentials' user is the request's from here: the token's audit record names it.
        request.user = data["user"]
        key = token_create(
            user=data["user"],
            name=data.get("name", ""),
            scope=data["scope"],
            expires_in=data.get("expires_in"),
        )
        login_success_record(username=username, address=address)
        return Response({"token": key})

    @extend_schema(
        request=None,
        responses={
            204: None,
            400: OpenApiResponse(
                description="The request is authenticated by a session, so there is no token "
                "to revoke (an Error); or a query parameter the operation does not take "
                "(FieldErrors)."
            ),
        },
    )
    def delete(self, request, *args, **kwargs):
        """Revokes the API token the request authenticates with, whatever its scope: from the
        next request on its key is a 401."""
        if not isinstance(request.auth, APIToken):
            return Response(
                {
                    "detail": "This request is authenticated by a session, not an API token: "
                    "there is no token to revoke."
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeTokensView(ProjectAPIMixin, APIView):
    """`DELETE /api/auth/tokens` revokes every API token of the requesting user, the request's
    own included (204). It takes a `full` token or a session; a `read` or `ingest` token gets a
    403."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, *args, **kwargs):
        """Revokes every API token of the requesting user, the request's own included: from the
        next request on their keys are a 401. A `read` or `ingest` token may not (403)."""
        token_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


class SchemaView(QueryParametersMixin, SpectacularAPIView):
    """`GET /api/schema`: the OpenAPI schema, in YAML or JSON by the Accept header or `format`.
    It takes no other query parameter: drf-spectacular's `lang` and `version` would translate
    the schema or write any text into its version, and an unknown one is refused as on every
    other endpoint."""


class CurrentUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class CurrentUserView(ProjectAPIMixin, APIView):
    """`GET /api/auth/me`: the authenticated user, so a dashboard knows who it acts as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
