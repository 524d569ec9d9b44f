"""Serializer pieces shared by every app's API."""

import copy
import re

from django.db import models
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import humanize_datetime


class JSONField(serializers.JSONField):
    """DRF's JSONField, with a form field's JSON text nested too deeply for Python's decoder
    refused like any other invalid JSON (a JSON body is the parser's: brain.api.parsers)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("invalid")


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, with a NUL character making the text malformed like any other stray
    character: datetime.fromisoformat() stops reading at one, so "2024-01-01T00:00:00\x00Z"
    would be taken as the naive 2024-01-01T00:00:00."""

    def to_internal_value(self, value):
        if isinstance(value, str) and "\x00" in value:
            formats = getattr(self, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
            self.fail("invalid", format=humanize_datetime.datetime_formats(formats))
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    """The API's ModelSerializer: model JSON and date-time fields become this module's.

    DRF works out a ModelSerializer's fields from the model (field info, uniqueness, extra
    kwargs) for every serializer it instantiates, that is on every request; nothing that work
    reads changes while the process runs (Meta, the model, the class's own build methods). Here it
    runs once per class, and each serializer gets a copy of the result (copy_field), as DRF
    gives each one a deep copy of its declared fields. The model's uniqueness validators, which
    DRF works out from those fields, are made once per class too. A subclass whose fields depend
    on the request or the instance builds them in its own get_fields(), on top of this one's (its
    validators are then DRF's, made for each serializer).
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.JSONField: JSONField,
        models.DateTimeField: DateTimeField,
    }

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        elif self.url_field_name is None:  # as DRF's get_fields() sets it
            self.url_field_name = api_settings.URL_FIELD_NAME
        return {name: copy_field(field) for name, field in built.items()}

    def get_validators(self):
        # DRF works the model's uniqueness validators out from the fields on every serializer too.
        # With the class's own fields (the get_fields() above), they are the class's as well;
        # each serializer gets its own list of them. A validator keeps no state between calls:
        # DRF hands it the serializer each time.
        cls = type(self)
        if cls.get_fields is not ModelSerializer.get_fields:
            return super().get_validators()
        built = cls.__dict__.get("_built_validators")
        if built is None:
            built = super().get_validators()
            cls._built_validators = built
        return list(built)


# Fields with a field or serializer inside (bound to the field itself): DRF's deep copy. The
# others of DRF's fields that can hold one are relations given a pk_field.
_NESTING = (
    serializers.BaseSerializer,
    serializers.ListField,
    serializers.DictField,
    serializers.ManyRelatedField,
)
# Values a deep copy returns as they are (`empty`, DRF's "no value", is a class); NoneType also
# stands for an absent default or initial.
_ATOMIC_TYPES = frozenset({type(None), bool, int, float, str, type})
# The modules whose leaf fields copy_field() copies by their attributes.
_LEAF_FIELD_MODULES = frozenset({"rest_framework.fields", "rest_framework.relations", __name__})


def copy_field(field):
    """A copy of the unbound `field` for a new serializer to bind. DRF's deep copy makes a field
    anew from deep copies of its arguments; a leaf field of DRF or of this module is copied by
    its attributes instead, several times faster: its validators, error messages and style are
    copied, its default and initial values deep-copied (as DRF copies each argument), so no
    change made to the copy reaches the original. A field holding another field (a list's
    child, a relation's pk_field) is deep-copied."""
    cls = type(field)
    state = field.__dict__
    if (
        cls.__module__ not in _LEAF_FIELD_MODULES
        or isinstance(field, _NESTING)
        or state.get("pk_field") is not None
    ):
        return copy.deepcopy(field)
    clone = object.__new__(cls)
    clone.__dict__.update(state)
    for name in ("_validators", "error_messages", "style"):
        if name in state:
            clone.__dict__[name] = copy.copy(state[name])
    for name in ("default", "initial"):
        if type(state.get(name)) not in _ATOMIC_TYPES:
            clone.__dict__[name] = copy.deepcopy(state[name])
    if "default_empty_html" in state and state["default_empty_html"] is state["default"]:
        clone.__dict__["default_empty_html"] = clone.default  # as Field.__init__ sets it
    return clone


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """DRF's PrimaryKeyRelatedField for integer keys, taking an integer or a string of ASCII
    digits only: DRF would take 36.9 as 36, "1_0" as 10 and an Arabic-Indic one as 1, and fail
    with a 500 on 1e400 (infinity) or on a list nested hundreds of levels deep."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and _DIGITS.fullmatch(data))
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


_DIGITS = re.compile(r"[0-9]+")
