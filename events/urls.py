from rest_framework.routers import SimpleRouter

from .views import EventViewSet

# No trailing slash, as the seed's paths; OptionalTrailingSlashMiddleware serves the slash too.
router = SimpleRouter(trailing_slash=False)
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
