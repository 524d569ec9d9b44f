from rest_framework.routers import SimpleRouter

from .views import AuditLogViewSet

# Paths are declared without a trailing slash; brain.middleware serves the slash variant too.
router = SimpleRouter(trailing_slash=False)
router.register("audit", AuditLogViewSet, basename="audit")

urlpatterns = router.urls
