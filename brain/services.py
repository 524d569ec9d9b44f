"""Pieces every app's services share."""

import json

from django.db import models


def assign(instance, data, *, updatable):
    """Sets the fields of `data` on `instance`. A field outside `updatable` is the caller's
    mistake, not bad input (the API's serializers refuse unknown fields with a 400 first): a
    TypeError, as Python raises for an unexpected keyword argument, with nothing set. A relation
    is given as an instance (or None). Returns the names of the fields whose value it changed: a
    JSON value by its JSON text, so `1`, `1.0` and `true` differ as they do when stored."""
    unknown = set(data) - set(updatable)
    if unknown:
        raise TypeError(
            f"Cannot update {', '.join(sorted(unknown))} of a {type(instance).__name__}."
        )
    changed = set()
    for name, value in data.items():
        field = instance._meta.get_field(name)
        if field.is_relation:  # compared by key: reading the related row would cost a query
            unchanged = getattr(instance, field.attname) == getattr(value, "pk", value)
        elif isinstance(field, models.JSONField):
            unchanged = _json(getattr(instance, name), field) == _json(value, field)
        else:
            unchanged = getattr(instance, name) == value
        if not unchanged:
            changed.add(name)
        setattr(instance, name, value)
    return changed


def _json(value, field):
    return json.dumps(value, cls=field.encoder, sort_keys=True)
