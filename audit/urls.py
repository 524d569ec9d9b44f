from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .views import AuditCheckpointRecordsView, AuditCheckpointViewSet, AuditLogViewSet

# Paths are declared without a trailing slash; brain.middleware serves the slash variant too.
router = SimpleRouter(trailing_slash=False)
router.register("audit/checkpoints", AuditCheckpointViewSet, basename="audit-checkpoint")
router.register("audit", AuditLogViewSet, basename="audit")

urlpatterns = [
    re_path(
        r"^audit/checkpoints/(?P<id>[0-9]{1,18})/records$",
        AuditCheckpointRecordsView.as_view(),
        name="audit-checkpoint-records",
    ),
    *router.urls,
]
