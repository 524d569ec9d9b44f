"""The scheduling app's health route, included under /health/."""

from django.urls import path

from .health import scheduler_health

urlpatterns = [
    path("scheduler", scheduler_health, name="health-scheduler"),
]
