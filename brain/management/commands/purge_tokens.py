from brain.commands import PurgeCommand
from brain.tokens import PURGE_BATCH_SIZE, token_purge_count, token_purge_expired


class Command(PurgeCommand):
    help = (
        "Deletes the API tokens that expired more than --expired-for ago (7d, 12h, 30m; 0d: "
        "every expired token), --batch-size tokens per transaction, each audited and its cached "
        "lookup revoked; tokens that never expire are kept."
    )
    age_option = "--expired-for"
    age_help = "Age like 7d, 12h or 30m."
    zero_age = True
    default_batch_size = PURGE_BATCH_SIZE
    unit = "tokens"

    def count(self, cutoff):
        return token_purge_count(expired_before=cutoff)

    def purge(self, cutoff, *, batch_size, progress):
        return token_purge_expired(expired_before=cutoff, batch_size=batch_size, progress=progress)

    def what(self, cutoff):
        return f"API tokens expired before {cutoff.isoformat()}"
