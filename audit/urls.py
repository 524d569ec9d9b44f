from rest_framework.routers import SimpleRouter

from .views import AuditLogViewSet

# No trailing slash, as the seeds write paths; brain.middleware serves the slash variant.
router = SimpleRouter(trailing_slash=False)
router.register("audit", AuditLogViewSet, basename="audit")

urlpatterns = router.urls
