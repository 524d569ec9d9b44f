"""Django's `flush`, allowed past the audit log's append-only trigger.

Emptying every table is a deliberate erase of the whole database (the test suite's transactional
tests do it after each test), so the audit log goes with it: the truncate runs in a transaction
that sets the flag the trigger accepts.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from audit.purge import allow_purge


class Command(flush.Command):
    def handle(self, **options):
        with transaction.atomic(using=options["database"]):
            allow_purge(connections[options["database"]])
            return super().handle(**options)
