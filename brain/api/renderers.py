"""Response renderers of the API."""

import json

from rest_framework import renderers
from rest_framework.request import override_method


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer (UTF-8, non-ASCII as is), except for a response holding a lone
    surrogate, which UTF-8 cannot encode: an error message that quotes the client's bad input
    (`"\\ud800" is not a valid choice.`) is written with ASCII escapes instead of failing."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True
            return super().render(data, accepted_media_type, renderer_context)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, with a lone surrogate in the page (the same error messages) written
    as `\\ud800` rather than failing to encode, and a PUT or PATCH form prefilled with the
    writable fields only: the API refuses a read-only one (brain.api.strict), so the form as
    shown can be sent as it is."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        page = super().render(data, accepted_media_type, renderer_context)
        return page.encode(self.charset, "backslashreplace")

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        content = form.fields.get("_content") if form is not None else None
        if content is None or method not in ("PUT", "PATCH") or not content.initial:
            return form
        try:
            initial = json.loads(content.initial)
        except ValueError:
            return form
        if isinstance(initial, dict):
            with override_method(view, request, method):
                fields = view.get_serializer().fields
            writable = {name for name, field in fields.items() if not field.read_only}
            content.initial = json.dumps(
                {name: value for name, value in initial.items() if name in writable},
                indent=4,
                ensure_ascii=False,
            )
        return form
