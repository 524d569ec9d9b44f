"""Request body parsers of the API, and the API's words for JSON it cannot parse."""

import codecs
import json
import re
import sys

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, parsers

from brain.validators import DuplicateKeyError, unique_keys

BYTE_ORDER_MARK = "{what} starts with a byte-order mark; send UTF-8 without one."
NOT_DECODABLE = "{what} is not valid {encoding}."
NOT_A_NUMBER = "{constant} is not a JSON number; numbers must be finite."
INTEGER_TOO_LONG = "a number too large: an integer of more than {digits} digits."
NESTED_TOO_DEEPLY = "nested too deeply."
# JSON's whitespace (RFC 8259), which may surround an array's items and commas.
WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_error(error, text, *, what="the body", encoding="UTF-8"):
    """What is wrong, in the API's words, with `text` (str or bytes), which json.loads refused
    with the ValueError `error` (JSONDecodeError's own words say where)."""
    if text[:1] == "\ufeff" or text[:3] == b"\xef\xbb\xbf":
        return BYTE_ORDER_MARK.format(what=what)
    if isinstance(error, UnicodeDecodeError):
        return NOT_DECODABLE.format(what=what, encoding=encoding)
    if isinstance(error, DuplicateKeyError):
        return str(error)
    if not isinstance(error, json.JSONDecodeError):
        # The one other ValueError of json.loads: an integer longer than Python converts.
        return INTEGER_TOO_LONG.format(digits=sys.get_int_max_str_digits())
    return str(error)


def duplicate_key_item(text):
    """The index of the first item of the JSON array `text` that holds a repeated key (at any
    depth), or None when `text` is not an array. Read only after json.loads refused `text` with
    DuplicateKeyError, so the items before that one are valid JSON."""
    decoder = json.JSONDecoder(object_pairs_hook=unique_keys)
    position = WHITESPACE.match(text).end()
    if text[position : position + 1] != "[":
        return None
    index = 0
    while True:
        position = WHITESPACE.match(text, position + 1).end()
        try:
            _, position = decoder.raw_decode(text, position)
        except DuplicateKeyError:
            return index
        # Past the item's whitespace, onto the comma.
        position = WHITESPACE.match(text, position).end()
        index += 1


def declared_charset(media_type):
    """The charset a request's Content-Type declares, as Python's codec (None when it declares
    none). One Python does not know as a text encoding (`bogus`, `rot13`, `undefined`) is a 415
    naming it: Django would drop it silently and read the body as UTF-8."""
    charset = parse_header_parameters(media_type or "")[1].get("charset")
    if charset is None:
        return None
    try:
        codec = codecs.lookup(charset)
        "".encode(codec.name)  # fails for a codec that is no text encoding (rot13, undefined)
    except (LookupError, UnicodeError):
        raise exceptions.UnsupportedMediaType(
            media_type, detail=f'Unsupported charset "{charset}" in request.'
        ) from None
    return codec


def _constant(name):
    # JSON has no NaN or Infinity, which Python's decoder would take.
    raise exceptions.ParseError(f"JSON parse error - {NOT_A_NUMBER.format(constant=name)}")


class JSONParser(parsers.JSONParser):
    """JSON bodies in the charset the request declares (UTF-8 unless it declares one; one Python
    does not know is a 415), refused with a 400 in the API's own words where Python's decoder
    would speak (json_error): a byte-order mark, bytes not in the request's encoding, NaN or
    Infinity, an integer too long for Python to convert, nesting too deep for the decoder
    (thousands of levels), a key repeated in one object (named, and in an array body its item,
    from 0).
    Shallower nesting is the fields' to bound (brain.validators.MAX_JSON_DEPTH), as are numbers
    too large for a float (decoded as infinity, refused by brain.validators)."""

    def parse(self, stream, media_type=None, parser_context=None):
        declared_charset(media_type)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = stream.read()
        try:
            text = data.decode(encoding)
            return json.loads(text, parse_constant=_constant, object_pairs_hook=unique_keys)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - {NESTED_TOO_DEEPLY}") from None
        except DuplicateKeyError as error:
            item = duplicate_key_item(text)
            where = "" if item is None else f"Item {item}: "
            raise exceptions.ParseError(f"{where}JSON parse error - {error}") from None
        except ValueError as error:
            message = json_error(error, data, encoding=encoding.upper())
            raise exceptions.ParseError(f"JSON parse error - {message}") from None
