from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, viewsets

from brain.api.lookups import IdLookupMixin
from brain.api.pagination import EstimatedCountPagination
from brain.api.views import ProjectAPIMixin

from .filters import AuditLogFilter
from .selectors import audit_log_list
from .serializers import AuditLogSerializer


class AuditLogViewSet(IdLookupMixin, ProjectAPIMixin, viewsets.ReadOnlyModelViewSet):
    """`GET /api/audit` and `GET /api/audit/{id}`: staff only, read-only, newest first. The
    list's `count` is exact up to 1,000 matching records and estimated above
    (brain.api.pagination.EstimatedCountPagination)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = AuditLogSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditLogFilter
    pagination_class = EstimatedCountPagination

    def get_queryset(self):
        return audit_log_list()
