"""Structured logging: one JSON object per line on stdout."""

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line with its `extra` fields at the top level; a record about
    a request (Django's 5xx, with the traceback) names its request id, method and path."""

    def format(self, record):
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                payload[name] = value
        request = payload.pop("request", None)
        if request is not None:  # Django's own records (django.request) carry the request
            payload.setdefault("request_id", getattr(request, "request_id", None))
            payload.setdefault("method", getattr(request, "method", None))
            payload.setdefault("path", getattr(request, "path", None))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
