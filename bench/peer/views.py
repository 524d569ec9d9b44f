from datetime import timedelta

from auditlog.context import set_actor
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncHour
from django.utils import timezone
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .filters import EventFilter
from .models import Event, Severity
from .serializers import EventSerializer


class EventViewSet(viewsets.ModelViewSet):
    """Events: any authenticated user reads and creates, staff update and delete. Writes are
    recorded by django-auditlog with the request's user as the actor."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["timestamp", "severity", "event_type", "id"]

    def get_permissions(self):
        if self.action in {"update", "partial_update", "destroy"}:
            return [permissions.IsAdminUser()]
        return super().get_permissions()

    def actor(self):
        # set_actor rather than AuditlogMiddleware: the user is known once DRF authenticated it.
        return set_actor(self.request.user, remote_addr=self.request.META.get("REMOTE_ADDR"))

    def perform_create(self, serializer):
        with self.actor():
            serializer.save()

    def perform_update(self, serializer):
        with self.actor():
            serializer.save()

    def perform_destroy(self, instance):
        with self.actor():
            instance.delete()

    @action(detail=False, pagination_class=None)
    def stats(self, request):
        """Total, counts by severity, type and source, first and last time, and counts per hour
        over the last 24 hours, of the events the list's filters select."""
        events = self.filter_queryset(self.get_queryset()).order_by()
        summary = events.aggregate(
            total=Count("id"),
            first_event_at=Min("timestamp"),
            last_event_at=Max("timestamp"),
            **{severity: Count("id", filter=Q(severity=severity)) for severity in Severity.values},
        )
        by_type = events.values("event_type").annotate(count=Count("id")).order_by("-count")
        by_source = events.exclude(source=None).values("source").annotate(count=Count("id"))
        since = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
        per_hour = (
            events.filter(timestamp__gte=since)
            .annotate(hour=TruncHour("timestamp"))
            .values("hour")
            .annotate(count=Count("id"))
            .order_by("hour")
        )
        return Response(
            {
                "total": summary["total"],
                "by_severity": {severity: summary[severity] for severity in Severity.values},
                "by_type": list(by_type[:100]),
                "top_sources": list(by_source.order_by("-count")[:10]),
                "first_event_at": summary["first_event_at"],
                "last_event_at": summary["last_event_at"],
                "last_24h": list(per_hour),
            }
        )

    @action(detail=False, methods=["post"], pagination_class=None)
    def bulk(self, request):
        """Creates a list of events, all or none."""
        serializer = self.get_serializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        with self.actor(), transaction.atomic():
            serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)
