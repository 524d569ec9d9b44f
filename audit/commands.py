"""The base of every Brain management command: what it changes is recorded as done by
`system:<command name>`."""

from django.core.management.base import BaseCommand

from .context import audit_actor


class AuditedCommand(BaseCommand):
    """A BaseCommand whose `handle()` runs under `audit_actor("system:<command>")`, the command
    name being its module's (`seed` for .../commands/seed.py). Subclass it instead of
    BaseCommand; set `actor_name` to name the actor otherwise."""

    actor_name = None

    def execute(self, *args, **options):
        actor = self.actor_name or f"system:{self.__module__.rsplit('.', 1)[-1]}"
        with audit_actor(actor):
            return super().execute(*args, **options)
