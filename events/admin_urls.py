"""The events app's pages in the admin beside its model admin: the dashboard. The project's
URLconf includes them under `admin/`, before the admin's own patterns, whose catch-all would
answer them with a 404."""

from django.contrib import admin
from django.urls import path

from .dashboard import dashboard_view

urlpatterns = [
    path("events/dashboard/", admin.site.admin_view(dashboard_view), name="events-dashboard"),
]
