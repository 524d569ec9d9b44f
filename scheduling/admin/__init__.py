"""Admin of the scheduling models. Saves and deletes go through the services, so the admin keeps
tasks_count exact and meets the same validation as the API (the model forms run full_clean());
execution results are a read-only log."""

# Importing the modules registers their ModelAdmins.
from . import agents, executions, projects, tasks

__all__ = ["agents", "executions", "projects", "tasks"]
