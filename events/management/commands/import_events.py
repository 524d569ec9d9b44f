import csv
import io
import json
import sys

from django.core.management.base import CommandError
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from brain.commands import AuditedCommand
from brain.progress import ProgressBar
from brain.validators import DuplicateKeyError, unique_keys
from events.parsers import ndjson_value
from events.schemas import EventsRefused, Unparsable, drf_message
from events.services import events_submit

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
        # Excel's "CSV UTF-8" starts with a byte-order mark, which is no part of the header; an
        # NDJSON line that starts with one is refused, as the API refuses it.
        text = self._read(file, encoding="utf-8-sig" if format == "csv" else "utf-8")
        items = _csv_items(text) if format == "csv" else _ndjson_items(text)
        chunks = (
            [(line, _parsed(item)) for line, item in items[start : start + CHUNK]]
            for start in range(0, len(items), CHUNK)
        )
        with ProgressBar(
            total=len(items), unit="events", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            try:
                imported = events_submit(
                    chunks=chunks,
                    max_errors=MAX_REPORTED_ERRORS,
                    on_chunk=lambda size, rows: bar.update(size),
                )
            except EventsRefused as refused:
                bar.close()
                for line, errors in refused.errors.items():
                    self.stderr.write(f"line {line}: {json.dumps(errors)}")
                raise CommandError("Refused lines (above): nothing was imported.") from None
        self.stdout.write(f"Imported {imported} events.")

    def _read(self, file, encoding):
        if file == "-":
            return sys.stdin.buffer.read().decode(encoding, errors="surrogateescape")
        try:
            with open(file, "rb") as handle:
                return handle.read().decode(encoding, errors="surrogateescape")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None


def _ndjson_items(text):
    """(line number, the line's JSON text) per non-blank line: parsed chunk by chunk, as the
    progress bar moves."""
    return [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]


def _parsed(item):
    """A line's JSON value (events.parsers.ndjson_value), or Unparsable; a CSV row (already a
    dict) as it is."""
    if not isinstance(item, str):
        return item
    try:
        return ndjson_value(item)
    except ParseError as error:
        return _unparsable(str(error.detail))


def _unparsable(message):
    return Unparsable({"non_field_errors": [message]})


def _csv_items(text):
    """(line number, row as an event's fields, or Unparsable) per CSV row."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    # DictReader would keep the last cell of a repeated column and drop the others.
    repeated = next((name for i, name in enumerate(columns) if name in columns[:i]), None)
    if repeated is not None:
        raise CommandError(
            f'line 1: the column "{repeated}" appears twice in the header: nothing was imported.'
        )
    items = []
    for row in reader:
        line = reader.line_num
        # DictReader puts a longer row's extra cells under None, and None in a shorter row's
        # missing columns.
        if None in row:
            items.append((line, _unparsable("This line has more columns than the header.")))
            continue
        if None in row.values():
            items.append((line, _unparsable("This line has fewer columns than the header.")))
            continue
        item = {
            name: value
            for name, value in row.items()
            if not (name in OPTIONAL_CSV_COLUMNS and value in ("", None))
        }
        if "details" in item:
            try:
                item["details"] = json.loads(item["details"], object_pairs_hook=unique_keys)
            except DuplicateKeyError as error:
                item = Unparsable({"details": [f"Value must be valid JSON: {error}"]})
            except (ValueError, RecursionError):
                item = Unparsable({"details": [drf_message(serializers.JSONField, "invalid")]})
        items.append((line, item))
    return items
