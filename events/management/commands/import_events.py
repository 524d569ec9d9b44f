import csv
import io
import json
import sys

from django.core.management.base import CommandError
from django.db import transaction

from audit.commands import AuditedCommand
from brain.progress import ProgressBar
from events import schemas
from events.cache import pooled_invalidation
from events.services import event_ingest

# Events validated and stored at a time (the progress bar's step), all in one transaction.
CHUNK = 2_000
MAX_REPORTED_ERRORS = 20
# CSV cells are text: these columns are left out when empty, and `details` is JSON text.
OPTIONAL_CSV_COLUMNS = ("details", "source", "timestamp")


class Command(AuditedCommand):
    help = (
        "Imports events from FILE (NDJSON: one JSON object per line; or CSV with a header row "
        "naming the columns event_type, severity, message and optionally details (JSON text), "
        "source, timestamp; `-` reads standard input). Every event is validated as the API "
        "validates it, then stored with COPY, each with its CREATE audit record (actor "
        "system:import). All or nothing: the whole file is one transaction, and a single refused "
        "line (reported by number) imports nothing; run it again once the file is fixed."
    )
    actor_name = "system:import"

    def add_arguments(self, parser):
        parser.add_argument("file", help="An NDJSON or CSV file, or - for standard input.")
        parser.add_argument(
            "--format",
            choices=["ndjson", "csv"],
            default=None,
            help="The file's format (default: csv for a .csv file, ndjson otherwise).",
        )

    def handle(self, *args, file, format, **options):
        format = format or ("csv" if file.lower().endswith(".csv") else "ndjson")
        text = self._read(file)
        items = _csv_items(text) if format == "csv" else _ndjson_items(text)
        imported, errors = 0, []
        with (
            ProgressBar(
                total=len(items),
                unit="events",
                disable=options["verbosity"] == 0,
                file=self.stderr,
            ) as bar,
            transaction.atomic(),
            pooled_invalidation(),
        ):
            for start in range(0, len(items), CHUNK):
                chunk = items[start : start + CHUNK]
                events, chunk_errors = _validate(chunk)
                errors.extend(chunk_errors)
                if not errors:
                    imported += len(event_ingest(events=events))
                bar.update(len(chunk))
                if len(errors) >= MAX_REPORTED_ERRORS:
                    break
            if errors:
                for line, message in errors[:MAX_REPORTED_ERRORS]:
                    self.stderr.write(f"line {line}: {message}")
                raise CommandError("Refused lines (above): nothing was imported.")
        self.stdout.write(f"Imported {imported} events.")

    def _read(self, file):
        if file == "-":
            return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
        try:
            with open(file, "rb") as handle:
                return handle.read().decode("utf-8", errors="surrogateescape")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None


def _validate(chunk):
    """(events, [(line, message)]) of (line, value, parse error) triples; a value still in its
    JSON text (an NDJSON line) is parsed here, chunk by chunk, as the progress bar moves."""
    events, errors = [], []
    for line, item, parse_error in chunk:
        if isinstance(item, str):
            item, parse_error = _parsed(item)
        if parse_error is not None:
            errors.append((line, parse_error))
            continue
        event, item_errors = schemas.validate_event(item)
        if item_errors:
            errors.append((line, json.dumps(item_errors)))
        elif not errors:
            events.append(event)
    return events, errors


def _ndjson_items(text):
    """(line number, the line's JSON text, None) per non-blank line."""
    return [
        (number, line, None)
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def _parsed(line):
    """(value, None) of a line of JSON, or (None, the parse error)."""
    try:
        return json.loads(line), None
    except RecursionError:
        return None, "JSON parse error - nested too deeply."
    except ValueError as error:
        return None, f"JSON parse error - {error}"


def _csv_items(text):
    """(line number, row as an event's fields, None) per CSV row, or (line, None, error)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    items = []
    for row in reader:
        line = reader.line_num
        if None in row:
            items.append((line, None, "More cells than columns."))
            continue
        item = {
            name: value
            for name, value in row.items()
            if not (name in OPTIONAL_CSV_COLUMNS and value in ("", None))
        }
        if "details" in item:
            try:
                item["details"] = json.loads(item["details"])
            except (ValueError, RecursionError):
                items.append((line, None, json.dumps({"details": ["Value must be valid JSON."]})))
                continue
        items.append((line, item, None))
    return items
