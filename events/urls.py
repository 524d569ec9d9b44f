from rest_framework.routers import SimpleRouter

from .views import EventViewSet

# Paths are declared without a trailing slash; OptionalTrailingSlashMiddleware serves it too.
router = SimpleRouter(trailing_slash=False)
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
