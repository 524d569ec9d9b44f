"""Form fields shared by every app's admin."""

from django import forms


class JSONField(forms.JSONField):
    """Django's JSONField, with text nested too deeply for Python's JSON decoder refused as
    invalid JSON rather than failing with a 500 (Django catches only JSONDecodeError)."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def bound_data(self, data, initial):
        # Redisplaying the form: the text as typed, like any other invalid JSON.
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
