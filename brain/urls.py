from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from . import health, index
from .api.views import AuthTokenView, CurrentUserView, RevokeTokensView, SchemaView

# API and health routes are declared without a trailing slash; OptionalTrailingSlashMiddleware
# serves both.
api_patterns = [
    path("auth/token", AuthTokenView.as_view(), name="auth-token"),
    path("auth/tokens", RevokeTokensView.as_view(), name="auth-tokens"),
    path("auth/me", CurrentUserView.as_view(), name="auth-me"),
    path("schema", SchemaView.as_view(), name="schema"),
    # Swagger UI's set-up script comes from `/api/docs?script`, not inline: the pages' content
    # security policy runs no inline script without a nonce.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("events.urls")),
    path("", include("scheduling.urls")),
    path("", include("audit.urls")),
]

admin.site.site_header = "Brain operator console"
admin.site.site_title = "Brain"
# The admin's "View site": Brain has no public site, its API reference is what there is to see.
admin.site.site_url = "/api/docs"

urlpatterns = [
    path("", index.index, name="index"),
    path("api/", include(api_patterns)),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/", include("scheduling.health_urls")),
    # The apps' own admin pages, before the admin's patterns, whose catch-all would answer them
    # with a 404.
    path("admin/", include("events.admin_urls")),
    path("admin/", admin.site.urls),
]

handler404 = "brain.api.views.not_found"
handler500 = "brain.api.views.server_error"
