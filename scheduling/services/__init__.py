"""Writes of the scheduling app: one function per action, keyword-only, each in one transaction.

Every write validates the instance with `full_clean()` (field validators, choices and the
database constraints, as Django's model validation checks them), so callers other than the API
(admin, commands, the scheduler) meet the same rules, and saves through the model so the audit
sees each change. Project.tasks_count follows task create, delete and move with `F()` updates in
the same transaction; rows are locked in primary-key order, so concurrent moves cannot deadlock.
The scheduler's writes (claim, finish, reclaim) are in `scheduler`, the operator's run now,
disable and enable in `task_state`: they change only status, lease and next run, through the
audited models and QuerySet. The schedulers' heartbeats are in `heartbeats`.

A write that changes or deletes a row locks it and reads it again first (brain.db.rows.lock_row):
one deleted meanwhile raises the model's DoesNotExist (the API's 404), and the audit records the
values each write replaced.

A task runs with its owner's rights: creating it, changing its skill, setting it pending again,
running it now and enabling it are refused when its owner may not use its skill
(`skills.Skill.refusal`), and the scheduler checks again before every run.
"""

from .agents import agent_create, agent_delete, agent_heartbeat, agent_update
from .executions import (
    ExecutionStateError,
    execution_complete,
    execution_create,
    execution_delete,
    execution_update,
)
from .heartbeats import (
    scheduler_heartbeat_record,
    scheduler_heartbeat_stop,
    scheduler_report_stale,
)
from .projects import ProjectHasTasks, project_create, project_delete, project_update
from .scheduler import (
    Claim,
    Outcome,
    execution_finish,
    recordable_text,
    task_claim_due,
    task_reclaim_expired,
)
from .task_state import TaskStateError, task_disable, task_enable, task_run_now
from .tasks import (
    TASK_RUNNING_REFUSED,
    TASK_SETTABLE_STATUSES,
    task_check_skill_allowed,
    task_create,
    task_delete,
    task_update,
)

__all__ = [
    "TASK_RUNNING_REFUSED",
    "TASK_SETTABLE_STATUSES",
    "Claim",
    "ExecutionStateError",
    "Outcome",
    "ProjectHasTasks",
    "TaskStateError",
    "agent_create",
    "agent_delete",
    "agent_heartbeat",
    "agent_update",
    "execution_complete",
    "execution_create",
    "execution_delete",
    "execution_finish",
    "execution_update",
    "project_create",
    "project_delete",
    "project_update",
    "recordable_text",
    "scheduler_heartbeat_record",
    "scheduler_heartbeat_stop",
    "scheduler_report_stale",
    "task_check_skill_allowed",
    "task_claim_due",
    "task_create",
    "task_delete",
    "task_disable",
    "task_enable",
    "task_reclaim_expired",
    "task_run_now",
    "task_update",
]
