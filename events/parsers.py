"""The NDJSON body of `POST /api/events/bulk`: one JSON value per line."""

import json

from django.conf import settings
from rest_framework import exceptions, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"


class NDJSONLines(list):
    """The parsed lines of an NDJSON body: (line number, value) pairs, blank lines left out."""


class NDJSONParser(parsers.BaseParser):
    """Newline-delimited JSON (`application/x-ndjson`), read up to REQUEST_MAX_NDJSON_BYTES
    (larger is a 413), each line parsed as JSON; a line that is not JSON is a 400 naming it."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.REQUEST_MAX_NDJSON_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")
        lines = NDJSONLines()
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                lines.append((number, json.loads(line)))
            except RecursionError:
                raise exceptions.ParseError(
                    f"Line {number}: JSON parse error - nested too deeply."
                ) from None
            except ValueError as error:
                raise exceptions.ParseError(f"Line {number}: JSON parse error - {error}") from None
        return lines
