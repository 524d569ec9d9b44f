from brain.commands import AuditedCommand
from events.services import event_counts_fold


class Command(AuditedCommand):
    help = (
        "Merges the event-count rows appended since the last fold into one row per group, so "
        "the statistics keep reading about one row per group. Never waits for a concurrent fold."
    )

    def handle(self, *args, **options):
        written = event_counts_fold()
        self.stdout.write(f"Folded the event counts: {written} folded rows written.")
