"""Response renderers of the API."""

from rest_framework import renderers


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
    as `\\ud800` rather than failing to encode."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        page = super().render(data, accepted_media_type, renderer_context)
        return page.encode(self.charset, "backslashreplace")
