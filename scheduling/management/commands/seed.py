import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils.timezone import now

from brain.commands import AuditedCommand
from brain.progress import ProgressBar
from events.management.commands.seed_events import MAX_COUNT as MAX_EVENTS
from events.models import SystemEvent
from scheduling import services
from scheduling.agent_types import agent_types
from scheduling.cron import next_run
from scheduling.models import Agent, AgentStatus, ExecutionStatus, Project, ScheduledTask
from scheduling.skills import RUN_MAINTENANCE_SKILLS, get_skill

USERS = ["alice", "bob", "carol"]
# alice runs the data platform's maintenance: this command grants her the permission of maintenance
# skills, as an operator would in the admin. The others' tasks leave those skills out.
MAINTAINERS = {"alice"}
PROJECTS = {
    "Data platform": "Nightly pipelines, retention and health of the data stack.",
    "Support assistant": "The customer-support agent team and its routines.",
}
# skill, cron, time zone, params: the built-in skills on the schedules an operator would use.
TASKS = {
    "Data platform": [
        ("system.health_check", "*/5 * * * *", "UTC", {}),
        ("events.fold_counts", "* * * * *", "UTC", {}),
        ("events.purge", "30 3 * * *", "Europe/Berlin", {"older_than_days": 90}),
        ("audit.purge", "0 4 * * 0", "UTC", {"older_than_days": 365}),
        ("audit.verify", "*/5 * * * *", "UTC", {}),
        ("partitions.maintain", "15 2 * * *", "UTC", {}),
        ("tokens.purge", "45 2 * * *", "UTC", {"expired_for_days": 7}),
    ],
    "Support assistant": [
        ("demo.echo", "0 9 * * 1-5", "America/New_York", {"message": "Good morning"}),
        ("demo.sleep", "*/15 * * * *", "UTC", {"seconds": 2}),
        ("demo.fail", "0 */6 * * *", "Asia/Tokyo", {"message": "shows a failed run"}),
    ],
    None: [("demo.echo", "0 18 * * 5", "Europe/London", {"message": "Weekly wrap-up"})],
}
CAPABILITIES = {
    "coder": ["python", "typescript", "refactoring"],
    "reviewer": ["code-review", "security-review"],
    "tester": ["pytest", "playwright"],
    "researcher": ["web-search", "summaries"],
    "planner": ["task-breakdown", "estimates"],
    "architect": ["system-design", "adr"],
    "devops": ["docker", "terraform", "ci"],
    "analyst": ["sql", "dashboards"],
    "documenter": ["markdown", "api-docs"],
    "security": ["threat-modeling", "dependency-audit"],
}
OUTCOMES = {
    ExecutionStatus.SUCCESS: 85,
    ExecutionStatus.FAILED: 8,
    ExecutionStatus.TIMEOUT: 4,
    ExecutionStatus.CANCELLED: 3,
}


# The longest history `seed` gives a task: its cron's slots reach back that far.
MAX_EXECUTIONS = 10_000


class Command(AuditedCommand):
    help = (
        "Fills a demo database: users with projects, tasks on realistic crons in several time "
        "zones (maintenance skills for alice only, whom it grants their permission), an agent of "
        "every registered type, a history of executions per task, and system events "
        "(seed_events). Idempotent: a second run adds only what is missing. Writes go through "
        "the services, so they are validated and audited."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--executions",
            type=int,
            default=20,
            help=f"History length of each new task (at most {MAX_EXECUTIONS:,}).",
        )
        parser.add_argument(
            "--events", type=int, default=5000, help="How many system events the demo should have."
        )
        parser.add_argument("--seed", type=int, default=4, help="Random seed (repeatable data).")

    def handle(self, *args, executions, events, seed, **options):
        if executions < 0 or events < 0:
            raise CommandError("--executions and --events must be >= 0.")
        if executions > MAX_EXECUTIONS:
            raise CommandError(f"--executions must be at most {MAX_EXECUTIONS:,}.")
        if events > MAX_EVENTS:
            raise CommandError(f"--events must be at most {MAX_EVENTS:,}.")
        rng = random.Random(seed)
        quiet = options["verbosity"] == 0
        tasks = self._tasks()
        agents = self._agents(rng)
        histories = 0
        for task in ProgressBar(
            tasks, desc="executions", unit="task", disable=quiet, file=self.stderr
        ):
            if not task.executions.exists():
                self._history(task, executions, rng)
                histories += 1
        self.stdout.write(
            f"Seeded {len(USERS)} users, {len(tasks)} tasks, {agents} new agents, "
            f"{histories} new execution histories."
        )
        self._events(events, quiet)

    def _tasks(self):
        User = get_user_model()
        tasks = []
        for username in USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if username in MAINTAINERS:
                app_label, codename = RUN_MAINTENANCE_SKILLS.split(".")
                user.user_permissions.add(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            for project_name, catalog in TASKS.items():
                project = None
                if project_name is not None:
                    project = Project.objects.filter(user=user, name=project_name).first()
                    if project is None:
                        project = services.project_create(
                            user=user, name=project_name, description=PROJECTS[project_name]
                        )
                for skill_name, cron, zone, params in catalog:
                    if get_skill(skill_name).refusal(user) is not None:
                        continue
                    task = ScheduledTask.objects.filter(
                        user=user, project=project, skill_name=skill_name, schedule_cron=cron
                    ).first()
                    if task is None:
                        task = services.task_create(
                            user=user,
                            project=project,
                            skill_name=skill_name,
                            schedule_cron=cron,
                            timezone=zone,
                            params_json=params,
                        )
                    tasks.append(task)
        return tasks

    def _agents(self, rng):
        created = 0
        statuses = list(AgentStatus.values)
        for agent_type in agent_types():
            name = f"{agent_type}-1"
            if Agent.objects.filter(name=name).exists():
                continue
            services.agent_create(
                name=name,
                type=agent_type,
                capabilities_json=CAPABILITIES.get(agent_type, []),
                status=rng.choice(statuses),
                last_active_at=now() - timedelta(seconds=rng.randrange(5, 6 * 3600)),
            )
            created += 1
        return created

    @transaction.atomic
    def _history(self, task, count, rng):
        """`count` executions of `task` at its latest past cron slots, most of them successful."""
        for slot in _past_slots(task, count):
            status = rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
            if task.skill_name == "demo.fail":
                status = ExecutionStatus.FAILED
            started_at = slot + timedelta(milliseconds=rng.randrange(5, 900))
            duration = rng.randrange(40, 4000)
            if status == ExecutionStatus.TIMEOUT:
                duration = task.timeout_seconds * 1000
            services.execution_create(
                task=task,
                scheduled_for=slot,
                started_at=started_at,
                ended_at=started_at + timedelta(milliseconds=duration),
                status=status,
                output_text="ok" if status == ExecutionStatus.SUCCESS else "",
                error_text=(
                    ""
                    if status == ExecutionStatus.SUCCESS
                    else f"{task.skill_name} ended as {status} (demo data)"
                ),
                worker=f"scheduler-{rng.randrange(1, 3)}",
            )

    def _events(self, wanted, quiet):
        missing = wanted - SystemEvent.objects.count()
        if missing > 0:
            call_command("seed_events", count=missing, verbosity=0 if quiet else 1)


def _past_slots(task, count):
    """The task's last `count` cron slots before now, oldest first, in its own time zone."""
    moment = now()
    first = next_run(task.schedule_cron, task.timezone, moment)
    interval = next_run(task.schedule_cron, task.timezone, first) - first
    # Twice the span of `count` slots at the first interval: crons with gaps (weekdays only)
    # still have `count` slots in it.
    cursor = moment - interval * (count + 1) * 2
    slots = []
    while (cursor := next_run(task.schedule_cron, task.timezone, cursor)) <= moment:
        slots.append(cursor)
    return slots[-count:] if count else []
