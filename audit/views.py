import base64

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from brain.api.lookups import IdLookupMixin
from brain.api.pagination import EstimatedCountPagination
from brain.api.views import ProjectAPIMixin

from .filters import AuditLogFilter
from .selectors import audit_checkpoint_list, audit_checkpoint_records, audit_log_list
from .serializers import (
    AuditCheckpointSerializer,
    AuditLogSerializer,
    AuditSigningKeySerializer,
)
from .signing import ALGORITHM, key_id, public_key_pem, public_key_raw, signing_key

CHECKPOINT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The checkpoint's sequence."
)


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


class AuditCheckpointViewSet(IdLookupMixin, ProjectAPIMixin, viewsets.ReadOnlyModelViewSet):
    """`GET /api/audit/checkpoints` (oldest first; sequences run from 1 without a gap, so
    `?offset=N` starts after checkpoint N) and `GET /api/audit/checkpoints/{id}` (the id is the
    sequence): the signed checkpoints, for keeping outside Brain. Staff only, as the audit log."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = AuditCheckpointSerializer
    filter_backends = []
    pagination_class = EstimatedCountPagination

    def get_queryset(self):
        return audit_checkpoint_list()

    @extend_schema(responses=AuditSigningKeySerializer)
    @action(detail=False, pagination_class=None)
    def key(self, request):
        """The public key that verifies the checkpoints' signatures."""
        public_key = signing_key().public_key()
        return Response(
            {
                "algorithm": ALGORITHM,
                "key_id": key_id(public_key),
                "public_key": base64.b64encode(public_key_raw(public_key)).decode(),
                "public_key_pem": public_key_pem(public_key),
            }
        )


@extend_schema(parameters=[CHECKPOINT_ID])
class AuditCheckpointRecordsView(ProjectAPIMixin, generics.ListAPIView):
    """`GET /api/audit/checkpoints/{id}/records`: the records of a checkpoint's range in
    sealed order, from which a client recomputes its head hash (docs/audit.md); none once
    purged. 404 for a checkpoint that does not exist. Staff only."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = AuditLogSerializer
    filter_backends = []

    def get_queryset(self):
        checkpoint = get_object_or_404(audit_checkpoint_list(), sequence=self.kwargs["id"])
        return audit_checkpoint_records(checkpoint)
