"""Reads of projects."""

from django.db.models import QuerySet

from ..models import Project


def project_list(*, user) -> QuerySet[Project]:
    """The projects `user` may see, newest first."""
    projects = Project.objects.order_by("-created_at", "-id")
    return projects if user.is_staff else projects.filter(user=user)
