"""Reads of the scheduling app: querysets scoped to the user, and the execution statistics.

A user sees their own projects and tasks and their tasks' executions; staff see every row.
Agents have no owner: every authenticated user sees them all.
"""

from .agents import agent_list, agent_list_named
from .executions import execution_list, execution_stats
from .heartbeats import scheduler_status, task_due_count
from .projects import project_list
from .tasks import (
    skill_list,
    task_list,
    task_next_due_at,
    task_owner_in_bulk,
    task_owner_visible,
    task_pending_list,
)

__all__ = [
    "agent_list",
    "agent_list_named",
    "execution_list",
    "execution_stats",
    "project_list",
    "scheduler_status",
    "skill_list",
    "task_due_count",
    "task_list",
    "task_next_due_at",
    "task_owner_in_bulk",
    "task_owner_visible",
    "task_pending_list",
]
