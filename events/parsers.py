"""The NDJSON body of `POST /api/events/bulk`: one JSON value per line, read as a stream."""

import codecs
import json

from django.conf import settings
from rest_framework import exceptions, parsers

from brain.api.parsers import BYTE_ORDER_MARK, NESTED_TOO_DEEPLY, declared_charset, json_error
from brain.validators import unique_keys

# Bytes read from the request at a time.
READ_BLOCK_BYTES = 1024 * 1024
# The longest line: as long as the default body of one event sent alone (REQUEST_MAX_BODY_BYTES).
MAX_LINE_BYTES = 5 * 1024 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"


class NDJSONBody:
    """The lines of an NDJSON request body, read from the request as `chunks()` is consumed,
    READ_BLOCK_BYTES at a time: the body is never whole in memory, only one block and the lines
    of one chunk. Read once."""

    def __init__(self, stream, *, limit, line_limit):
        self.stream = stream
        self.limit = limit
        self.line_limit = line_limit

    def chunks(self, *, lines, size):
        """Lists of (line number, JSON value) of the body's non-blank lines, in order (numbers
        count every line from 1), each of at most `lines` lines and ending with the line that
        brings its text to `size` bytes. Raises DRF's ParseError naming the first line that is not
        JSON or is longer than `line_limit` bytes, and PayloadTooLarge past `limit` bytes."""
        chunk, text = [], 0
        for number, line in self._lines():
            if not line.strip():
                continue
            try:
                value = ndjson_value(line)
            except exceptions.ParseError as error:
                raise exceptions.ParseError(f"Line {number}: {error.detail}") from None
            chunk.append((number, value))
            text += len(line)
            if len(chunk) >= lines or text >= size:
                yield chunk
                chunk, text = [], 0
        if chunk:
            yield chunk

    def _lines(self):
        """(number, bytes) of every line, blank ones included."""
        number, read, pending = 0, 0, b""
        while True:
            block = self.stream.read(READ_BLOCK_BYTES) if self.stream is not None else b""
            read += len(block)
            if read > self.limit:
                raise PayloadTooLarge(f"Request body too large: the limit is {self.limit} bytes.")
            if not block:
                break
            *lines, pending = (pending + block).split(b"\n")
            for line in lines:
                number += 1
                yield number, self._bounded(number, line)
            self._bounded(number + 1, pending)
        if pending:
            yield number + 1, pending

    def _bounded(self, number, line):
        if len(line) > self.line_limit:
            raise exceptions.ParseError(
                f"Line {number}: too long: the limit is {self.line_limit} bytes a line."
            )
        return line


def ndjson_value(line):
    """The JSON value of one NDJSON line (bytes or text): every NDJSON reader's parser. Raises
    DRF's ParseError, worded as brain.api.parsers.JSONParser words a body's, when it is not
    JSON or repeats a key in one object. A line that starts with a byte-order mark is refused, as
    a body that does is (json.loads would skip it)."""
    if line[:1] == "\ufeff" or line[:3] == codecs.BOM_UTF8:
        message = BYTE_ORDER_MARK.format(what="the line")
        raise exceptions.ParseError(f"JSON parse error - {message}")
    try:
        return json.loads(line, object_pairs_hook=unique_keys)
    except RecursionError:
        raise exceptions.ParseError(f"JSON parse error - {NESTED_TOO_DEEPLY}") from None
    except ValueError as error:
        message = json_error(error, line, what="the line")
        raise exceptions.ParseError(f"JSON parse error - {message}") from None


class NDJSONParser(parsers.BaseParser):
    """Newline-delimited JSON (`application/x-ndjson`): an NDJSONBody over the request, read as
    the view consumes it, up to REQUEST_MAX_NDJSON_BYTES (larger is a 413), each line at most
    MAX_LINE_BYTES and parsed as JSON; a line that is not JSON, or longer, is a 400 naming it.
    NDJSON is UTF-8: a Content-Type declaring another charset is a 415."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        codec = declared_charset(media_type)
        if codec is not None and codec.name != "utf-8":
            raise exceptions.UnsupportedMediaType(
                media_type, detail="NDJSON is UTF-8: send it without another charset."
            )
        return NDJSONBody(
            stream,
            limit=settings.REQUEST_MAX_NDJSON_BYTES,
            line_limit=MAX_LINE_BYTES,
        )
