from functools import cached_property

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from brain.api.heavy import heavy_request
from brain.api.lookups import IdLookupMixin
from brain.api.pagination import EstimatedCountPagination
from brain.api.parsers import JSONParser
from brain.api.renderers import JSONRenderer
from brain.api.views import ProjectAPIMixin

from . import cache
from .filters import EventFilter, TypeEventFilter, clean_event_type, filter_for_stats
from .models import SystemEvent
from .ndjson import ndjson_ingest
from .parsers import NDJSONBody, NDJSONParser
from .schemas import (
    BULK_MAX_EVENTS,
    EventsRefused,
    SystemEventCreate,
    SystemEventUpdate,
    bulk_items,
)
from .selectors import event_get, event_list, event_list_by_type, event_stats_json
from .serializers import (
    EVENT_FIELDS,
    EventStatsSerializer,
    SystemEventSerializer,
    event_page_json,
)
from .services import event_delete, event_submit, event_submit_changes, events_submit

# The largest value of the integer primary key: a larger id cannot exist.
MAX_EVENT_ID = 2**31 - 1
NDJSON_MAX_EVENTS = 100_000
# NDJSON events are validated and stored this many at a time, in the request's one transaction; a
# chunk also ends once its lines hold NDJSON_CHUNK_BYTES, so that fat events make short chunks.
NDJSON_CHUNK = 5_000
NDJSON_CHUNK_BYTES = 4 * 1024 * 1024
# At most this many refused NDJSON lines are reported.
NDJSON_MAX_ERRORS = 100
EMPTY_BULK_BODY = "The body is empty: send a JSON array of events, or NDJSON lines."

# The answer of a bulk create: the created events, or with `Prefer: return=minimal` their ids.
BULK_RESPONSE_SCHEMA = {
    "oneOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/SystemEvent"}},
        {
            "type": "object",
            "title": "EventIngestMinimal",
            "properties": {
                "ids": {"type": "array", "items": {"type": "integer"}},
                "count": {"type": "integer"},
            },
            "required": ["ids", "count"],
        },
    ]
}


def _prefers_minimal(request):
    """Whether the client sent `Prefer: return=minimal` (RFC 7240)."""
    preferences = request.headers.get("Prefer", "")
    return any(
        part.split(";")[0].replace(" ", "").replace('"', "").lower() == "return=minimal"
        for part in preferences.split(",")
    )


def _ingest_response(request, rows):
    if _prefers_minimal(request):
        ids = [row["id"] for row in rows]
        response = Response({"ids": ids, "count": len(ids)}, status=status.HTTP_201_CREATED)
        response["Preference-Applied"] = "return=minimal"
        return response
    data = SystemEventSerializer(rows, many=True).data
    return Response(data, status=status.HTTP_201_CREATED)


def _json_response(body):
    """A cached (or just rendered) JSON body, answered as it is."""
    return HttpResponse(body, content_type="application/json")


@extend_schema_view(
    create=extend_schema(request=SystemEventCreate, responses={201: SystemEventSerializer}),
    update=extend_schema(
        request=SystemEventUpdate,
        responses=SystemEventSerializer,
        description="Partial, as SystemEventUpdate: omitted fields stay unchanged. Staff only.",
    ),
    partial_update=extend_schema(
        request=SystemEventUpdate,
        responses=SystemEventSerializer,
        description="Staff only.",
    ),
    destroy=extend_schema(description="Staff only."),
)
class EventViewSet(IdLookupMixin, ProjectAPIMixin, viewsets.ModelViewSet):
    """System events. Any authenticated user reads and creates; staff update and
    delete. One event, a type's list and the stats are answered from Redis when cached."""

    filterset_class = EventFilter
    pagination_class = EstimatedCountPagination
    ordering_fields = ["timestamp", "severity", "event_type", "id"]
    ordering = ["-timestamp", "-id"]

    def get_queryset(self):
        return event_list()

    @cached_property
    def stats_selection(self):
        """The events the stats are about and the filters that select them (filter_for_stats)."""
        return filter_for_stats(self.request.query_params)

    @staticmethod
    def _page_variant(request):
        return cache.variant_hash(request.build_absolute_uri())

    def get_permissions(self):
        if self.action in {"update", "partial_update", "destroy"}:
            return [permissions.IsAuthenticated(), permissions.IsAdminUser()]
        return [permissions.IsAuthenticated()]

    def allows_ingest(self, request):
        """An `ingest` token creates events (one, a JSON array or NDJSON), and nothing else."""
        return self.action in {"create", "bulk"}

    def get_serializer_class(self):
        if self.action == "stats":
            return EventStatsSerializer
        return SystemEventSerializer

    def _page_data(self, queryset):
        """The page of `queryset` (already filtered) the request asks for, as the paginator's
        `{"count", "next", "previous", "results"}`: its rows read as values of EVENT_FIELDS, no
        model instance made."""
        page = self.paginate_queryset(queryset.values(*EVENT_FIELDS))
        return self.get_paginated_response(page).data

    def list(self, request, *args, **kwargs):
        """Events matching the filters, in the requested order (newest first by default), one
        page of them. The JSON body is encoded by event_page_json(); the browsable API renders
        the same data."""
        data = self._page_data(self.filter_queryset(self.get_queryset()))
        if isinstance(request.accepted_renderer, JSONRenderer):
            return _json_response(event_page_json(data))
        return Response(data)

    def get_object(self):
        event_id = int(self.kwargs["pk"])
        if event_id > MAX_EVENT_ID:
            raise exceptions.NotFound()
        try:
            event = event_get(event_id=event_id)
        except SystemEvent.DoesNotExist:
            raise exceptions.NotFound() from None
        self.check_object_permissions(self.request, event)
        return event

    def create(self, request, *args, **kwargs):
        try:
            event = event_submit(data=request.data)
        except EventsRefused as refused:
            raise exceptions.ValidationError(refused.errors) from None
        return Response(SystemEventSerializer(event).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        event_id = int(kwargs["pk"])

        def compute():
            try:
                event = event_get(event_id=event_id)
            except SystemEvent.DoesNotExist:
                return None
            return JSONRenderer().render(SystemEventSerializer(event).data)

        body = cache.event_body(event_id, compute) if event_id <= MAX_EVENT_ID else None
        if body is None:
            raise exceptions.NotFound()
        return _json_response(body)

    def update(self, request, *args, **kwargs):
        event = self.get_object()
        try:
            event = event_submit_changes(event=event, data=request.data)
        except EventsRefused as refused:
            raise exceptions.ValidationError(refused.errors) from None
        return Response(SystemEventSerializer(event).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        event_delete(event=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "event_type", OpenApiTypes.STR, OpenApiParameter.PATH, pattern="^[^/]+$"
            )
        ],
        responses=SystemEventSerializer(many=True),
    )
    @action(
        detail=False,
        url_path="type/(?P<event_type>[^/]+)",
        url_name="type",
        filterset_class=TypeEventFilter,
    )
    def by_type(self, request, event_type):
        """Events of one type, paginated, with the list's filters and ordering (cached 60 s)."""
        event_type = clean_event_type(event_type)

        def compute():
            queryset = self.filter_queryset(event_list_by_type(event_type=event_type))
            return event_page_json(self._page_data(queryset))

        variant = self._page_variant(request)
        return _json_response(cache.type_page_body(event_type, variant, compute))

    @extend_schema(filters=True, responses=EventStatsSerializer)
    @action(detail=False, pagination_class=None, filter_backends=[DjangoFilterBackend])
    def stats(self, request):
        """Statistics of the events matching the list's filters (cached 30 s). Computing them for
        filters is a heavy request: one user may have API_HEAVY_REQUESTS_PER_USER (1 by default)
        in flight at once, bulk creates included; past that a 429 with Retry-After."""
        queryset, filters = self.stats_selection

        def compute():
            if filters:  # a scan of the matching events: a heavy request
                with heavy_request(request.user):
                    return event_stats_json(queryset=queryset)
            return event_stats_json()  # every event's, from the counts the database keeps

        variant = cache.stats_variant(filters)
        return _json_response(cache.stats_body(variant, compute))

    @extend_schema(
        request={
            "application/json": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/SystemEventCreateRequest"},
                "minItems": 1,
                "maxItems": BULK_MAX_EVENTS,
            },
            # OpenAPI 3.0 has no schema for a sequence of JSON values: the body is bytes, its
            # lines described here.
            "application/x-ndjson": {
                "type": "string",
                "format": "binary",
                "description": f"Newline-delimited JSON: up to {NDJSON_MAX_EVENTS:,} lines, each "
                "one SystemEventCreateRequest object (blank lines are skipped).",
            },
        },
        parameters=[
            OpenApiParameter(
                "Prefer",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="`return=minimal`: answer the ids and the count only (RFC 7240; "
                "other preferences are ignored).",
            )
        ],
        responses={
            201: OpenApiResponse(
                BULK_RESPONSE_SCHEMA,
                description="The created events; with `Prefer: return=minimal`, their ids and "
                "how many (`Preference-Applied: return=minimal`).",
            ),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        pagination_class=None,
        filter_backends=[],
        parser_classes=[JSONParser, NDJSONParser],
    )
    def bulk(self, request):
        """Creates up to 1000 events (a JSON array), or up to 100,000 (`application/x-ndjson`,
        one event per line), all or none, each with its audit record, in one transaction (400
        names the failing items by index, or by line). With `Prefer: return=minimal` the answer
        is the ids and the count (`Preference-Applied: return=minimal`). A heavy request: one user
        may have API_HEAVY_REQUESTS_PER_USER (1 by default) in flight at once, filtered statistics
        included; past that a 429 with Retry-After."""
        with heavy_request(request.user):
            data = request.data
            if request.stream is None:  # no body: DRF's data is then {}, which no client sent
                raise exceptions.ValidationError({"non_field_errors": [EMPTY_BULK_BODY]})
            if isinstance(data, NDJSONBody):
                return ndjson_ingest(
                    data,
                    minimal=_prefers_minimal(request),
                    max_events=NDJSON_MAX_EVENTS,
                    chunk_lines=NDJSON_CHUNK,
                    chunk_bytes=NDJSON_CHUNK_BYTES,
                    max_errors=NDJSON_MAX_ERRORS,
                )
            rows = []
            try:
                events_submit(
                    chunks=[bulk_items(data)],
                    max_errors=BULK_MAX_EVENTS,
                    on_chunk=lambda size, stored: rows.extend(stored),
                )
            except EventsRefused as refused:
                raise exceptions.ValidationError(refused.errors) from None
            return _ingest_response(request, rows)
