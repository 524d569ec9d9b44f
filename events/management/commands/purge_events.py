from brain.commands import PurgeCommand
from events.services import PURGE_BATCH_SIZE, event_purge, event_purge_count


class Command(PurgeCommand):
    help = (
        "Retention: deletes events whose timestamp is older than --older-than (90d, 12h, 30m), "
        "--batch-size rows per transaction, through the model's manager (audited), invalidating "
        "the events caches."
    )
    age_option = "--older-than"
    age_help = "Age like 90d, 12h or 30m."
    default_batch_size = PURGE_BATCH_SIZE
    unit = "events"

    def count(self, cutoff):
        return event_purge_count(older_than=cutoff)

    def purge(self, cutoff, *, batch_size, progress):
        return event_purge(older_than=cutoff, batch_size=batch_size, progress=progress)

    def what(self, cutoff):
        return f"events older than {cutoff.isoformat()}"
