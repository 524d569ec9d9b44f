"""Form fields shared by every app's admin."""

import json

from django import forms

from brain.validators import DuplicateKeyError, unique_keys


class UniqueKeysDecoder(json.JSONDecoder):
    """A JSON decoder refusing a key repeated in one object (brain.validators.unique_keys)."""

    def __init__(self, **kwargs):
        super().__init__(object_pairs_hook=unique_keys, **kwargs)


class JSONField(forms.JSONField):
    """Django's JSONField, with a key repeated in one object refused naming the key, and text
    nested too deeply for Python's JSON decoder refused as invalid JSON, rather than either
    failing with a 500 (Django catches only JSONDecodeError)."""

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "decoder": UniqueKeysDecoder})

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        except DuplicateKeyError as error:
            raise forms.ValidationError(f"Enter a valid JSON: {error}", code="invalid") from None

    def bound_data(self, data, initial):
        # Redisplaying the form: the text as typed, like any other invalid JSON.
        try:
            return super().bound_data(data, initial)
        except (RecursionError, DuplicateKeyError):
            return forms.fields.InvalidJSONInput(data)
