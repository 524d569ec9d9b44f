from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import health
from .api.views import CurrentUserView, ObtainTokenView

# API and health routes are declared without a trailing slash; OptionalTrailingSlashMiddleware
# serves both.
api_patterns = [
    path("auth/token", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/me", CurrentUserView.as_view(), name="auth-me"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("events.urls")),
    path("", include("scheduling.urls")),
    path("", include("audit.urls")),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
]

handler404 = "brain.api.views.not_found"
handler500 = "brain.api.views.server_error"
