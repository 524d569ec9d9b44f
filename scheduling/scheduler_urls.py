"""The scheduler's routes, included from scheduling/urls.py (paths without trailing slash)."""

from django.urls import path

from .scheduler_views import SkillListView, TaskDisableView, TaskEnableView, TaskRunView

urlpatterns = [
    path("skills", SkillListView.as_view(), name="skill-list"),
    path("tasks/<int:pk>/run", TaskRunView.as_view(), name="task-run"),
    path("tasks/<int:pk>/disable", TaskDisableView.as_view(), name="task-disable"),
    path("tasks/<int:pk>/enable", TaskEnableView.as_view(), name="task-enable"),
]
