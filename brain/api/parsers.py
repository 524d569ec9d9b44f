"""Request body parsers of the API."""

import json
import sys

from django.conf import settings
from rest_framework import exceptions, parsers

PARSE_ERROR = "JSON parse error - {}"
BYTE_ORDER_MARK = "the body starts with a byte-order mark; send UTF-8 without one."
NOT_DECODABLE = "the body is not valid {encoding}."
NOT_A_NUMBER = "{constant} is not a JSON number; numbers must be finite."
INTEGER_TOO_LONG = "a number too large: an integer of more than {digits} digits."
NESTED_TOO_DEEPLY = "nested too deeply."


def _parse_error(message):
    return exceptions.ParseError(PARSE_ERROR.format(message))


def _constant(name):
    # JSON has no NaN or Infinity, which Python's decoder would take.
    raise _parse_error(NOT_A_NUMBER.format(constant=name))


def _integer(text):
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits(): Python refuses to convert it
        raise _parse_error(INTEGER_TOO_LONG.format(digits=sys.get_int_max_str_digits())) from None


class JSONParser(parsers.JSONParser):
    """JSON bodies, refused with a 400 in the API's own words where Python's decoder would
    speak: a byte-order mark, bytes not in the request's encoding, NaN or Infinity, an integer
    too long for Python to convert, nesting too deep for the decoder (thousands of levels).
    Shallower nesting is the fields' to bound (brain.validators.MAX_JSON_DEPTH), as are numbers
    too large for a float (decoded as infinity, refused by brain.validators)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError:
            raise _parse_error(NOT_DECODABLE.format(encoding=encoding.upper())) from None
        if text.startswith("\ufeff"):
            raise _parse_error(BYTE_ORDER_MARK)
        try:
            return json.loads(text, parse_constant=_constant, parse_int=_integer)
        except RecursionError:
            raise _parse_error(NESTED_TOO_DEEPLY) from None
        except ValueError as error:
            raise _parse_error(error) from None
