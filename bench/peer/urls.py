from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views import EventViewSet

router = SimpleRouter(trailing_slash=False)
router.register("events", EventViewSet)

urlpatterns = [path("api/", include(router.urls))]
