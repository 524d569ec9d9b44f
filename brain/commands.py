"""The base of every Brain management command: what it changes is recorded as done by
`system:<command name>`."""

from django.core.management.base import BaseCommand

from brain.context import audit_actor, current_context


class AuditedCommand(BaseCommand):
    """A BaseCommand whose `handle()` runs under `audit_actor("system:<command>")`, the command
    name being its module's (`seed` for .../commands/seed.py). Subclass it instead of
    BaseCommand; set `actor_name` to name the actor otherwise. Called from code that already
    has an actor or a request (`seed` calling `seed_events`, the scheduler's `audit.purge`
    skill), it keeps that one: the record names who started the work."""

    actor_name = None

    def execute(self, *args, **options):
        context = current_context()
        if context.actor or context.request is not None:
            return super().execute(*args, **options)
        actor = self.actor_name or f"system:{self.__module__.rsplit('.', 1)[-1]}"
        with audit_actor(actor):
            return super().execute(*args, **options)
