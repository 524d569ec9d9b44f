"""Projects in the admin."""

from django.contrib import admin

from brain import admin_display

from .. import services
from ..models import Project
from .base import SHOWN_LENGTH, ServiceAdmin


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    list_display = ["name_shown", "owner", "tasks_count", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "description", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["tasks_count", "created_at", "updated_at"]
    fixed_after_creation = ["user"]
    fields = ["name", "description", "user", "tasks_count", "created_at", "updated_at"]

    @admin.display(description="Name", ordering="name")
    def name_shown(self, project):
        return admin_display.shortened(project.name, SHOWN_LENGTH)

    @admin.display(description="Owner", ordering="user__username")
    def owner(self, project):
        return admin_display.shortened(project.user.get_username(), SHOWN_LENGTH)

    def create(self, form):
        data = form.cleaned_data
        return services.project_create(
            user=data["user"], name=data["name"], description=data["description"]
        )

    def update(self, instance, changes):
        return services.project_update(project=instance, data=changes)

    def delete(self, instance):
        services.project_delete(project=instance)
