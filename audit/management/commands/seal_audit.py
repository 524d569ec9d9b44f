from audit.sealing import audit_seal
from brain.commands import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Seals the audit records committed since the last checkpoint now: chains them by hash "
        "into Ed25519-signed checkpoints (the scheduled skill audit.seal does the same)."
    )

    def handle(self, *args, **options):
        checkpoints = audit_seal()
        if not checkpoints:
            self.stdout.write("Nothing to seal.")
            return
        records = sum(checkpoint.record_count for checkpoint in checkpoints)
        self.stdout.write(
            f"Sealed {records} audit records in {len(checkpoints)} checkpoints, through "
            f"checkpoint {checkpoints[-1].sequence}."
        )
