"""Request body parsers of the API."""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested too deeply for Python's JSON decoder (thousands of
    levels) refused as a parse error, like any other malformed body, rather than failing with a
    500. Shallower nesting is the fields' to bound (brain.validators.MAX_JSON_DEPTH)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
