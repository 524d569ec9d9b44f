from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    AgentViewSet,
    ExecutionResultViewSet,
    ProjectViewSet,
    ScheduledTaskViewSet,
    SkillListView,
    TaskDisableView,
    TaskEnableView,
    TaskRunView,
)

# Declared without a trailing slash; the middleware serves both.
router = SimpleRouter(trailing_slash=False)
router.register("projects", ProjectViewSet, basename="project")
router.register("tasks", ScheduledTaskViewSet, basename="task")
router.register("agents", AgentViewSet, basename="agent")
router.register("executions", ExecutionResultViewSet, basename="execution")

urlpatterns = [
    # The scheduler's routes: GET /api/skills, POST /api/tasks/{id}/run, /disable, /enable.
    path("skills", SkillListView.as_view(), name="skill-list"),
    path("tasks/<int:pk>/run", TaskRunView.as_view(), name="task-run"),
    path("tasks/<int:pk>/disable", TaskDisableView.as_view(), name="task-disable"),
    path("tasks/<int:pk>/enable", TaskEnableView.as_view(), name="task-enable"),
    *router.urls,
]
