from brain.commands import AuditedCommand
from brain.partitions import partitions_maintain


class Command(AuditedCommand):
    help = (
        "Keeps the time partitions of system_events and audit_logs: creates the coming months' "
        "partitions and, where EVENT_RETENTION_DAYS or AUDIT_RETENTION_DAYS is set, drops the "
        "partitions wholly older (one audit record each; a partially expired month stays whole "
        "until all of it is past). --dry-run lists what it would create and drop."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; list.")

    def handle(self, *args, dry_run, **options):
        lines = partitions_maintain(dry_run=dry_run)
        prefix = "would " if dry_run else ""
        for line in lines:
            self.stdout.write(prefix + line)
        if not lines:
            self.stdout.write("Nothing to create or drop.")
