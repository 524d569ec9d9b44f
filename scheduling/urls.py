from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views import (
    AgentViewSet,
    ExecutionResultViewSet,
    ProjectViewSet,
    ScheduledTaskViewSet,
)

# Declared without a trailing slash, as the seeds write paths; the middleware serves both.
router = SimpleRouter(trailing_slash=False)
router.register("projects", ProjectViewSet, basename="project")
router.register("tasks", ScheduledTaskViewSet, basename="task")
router.register("agents", AgentViewSet, basename="agent")
router.register("executions", ExecutionResultViewSet, basename="execution")

urlpatterns = [
    # The scheduler's routes: GET /api/skills, POST /api/tasks/{id}/run, /disable, /enable.
    path("", include("scheduling.scheduler_urls")),
    *router.urls,
]
