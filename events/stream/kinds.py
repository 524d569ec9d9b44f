"""The tables besides system_events whose changes the stream carries, registered by their apps
(`register()`, from AppConfig.ready()). A kind's migration adds triggers appending its
statements' changes to the change log with its `name` as the log's `kind`, each row with an
`owner_id` key: the user the row belongs to. Its changes share the events' positions."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from rest_framework import serializers

EVENT = "event"  # the kind of system_events' own changes (migration events 0004)


@dataclass(frozen=True)
class Kind:
    """A table's changes on the stream: `name` is the log's `kind`, the message's `type` and the
    key holding the row, `stream` what a client subscribes to; the row is rendered by
    `serializer` from an instance of `model`, and sent to a user only when `visible(user=...,
    owner_id=...)` says the API shows it to them."""

    name: str
    stream: str
    model: type[models.Model]
    serializer: type[serializers.BaseSerializer]
    visible: Callable[..., bool]


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    """Adds `kind` (once per name: registering it again replaces it)."""
    _kinds[kind.name] = kind


def registered() -> list[Kind]:
    """The kinds registered, by name."""
    return [_kinds[name] for name in sorted(_kinds)]


def get(name: str) -> Kind | None:
    return _kinds.get(name)
