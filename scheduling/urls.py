from django.urls import include, path

urlpatterns = []

# The scheduler's routes: GET /api/skills, POST /api/tasks/{id}/run, /disable, /enable.
urlpatterns += [path("", include("scheduling.scheduler_urls"))]
