"""The `changed_fields` of a record, from plain values: no database access here.

Formats: CREATE and DELETE map each recorded field to its value; UPDATE maps each
changed field to `{"old": ..., "new": ...}`. Keys are attnames, so foreign keys appear as their raw
ids (`task_id`). Secrets are recorded as changed, never with their values.
"""

from copy import deepcopy
from functools import lru_cache

SECRET_WORDS = frozenset({"password", "passwd", "token", "secret", "key", "apikey"})
REDACTED = "[redacted]"


@lru_cache(maxsize=4096)  # the same few names come back on every record (a JSON value's keys)
def is_secret_name(name):
    """True for names like `password`, `api_key`, `access_token`, `client-secret`."""
    return any(part in SECRET_WORDS for part in str(name).lower().replace("-", "_").split("_"))


def _redact_json(value):
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(key) else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


def _recorded(options, attname, value):
    if attname in options.secret_attnames:
        return REDACTED
    if attname in options.json_attnames:
        return _redact_json(value)
    return value


def snapshot(options, values):
    """A copy of `values` (attname -> value) safe from in-place changes to JSON values."""
    values = dict(values)
    for attname in options.json_attnames:
        if isinstance(values.get(attname), (dict, list)):
            values[attname] = deepcopy(values[attname])
    return values


def values_changes(options, values):
    """CREATE and DELETE: every recorded field present in `values`."""
    return {
        attname: _recorded(options, attname, values[attname])
        for attname in options.attnames
        if attname in values
    }


def update_changes(options, old, new):
    """UPDATE: the fields of `new` whose value differs from `old`; empty when only `auto_now`
    fields moved (a save that changes nothing is no change)."""
    changed = {
        attname: {
            "old": _recorded(options, attname, old[attname]),
            "new": _recorded(options, attname, value),
        }
        for attname, value in new.items()
        if attname in old and old[attname] != value
    }
    auto_now = {field.attname for field in options.auto_now_fields}
    if changed.keys() <= auto_now:
        return {}
    return changed
