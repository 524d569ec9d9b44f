"""JSON errors for every failure the API can meet, with field messages for bad input."""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from brain.middleware import payload_too_large_response


def exception_handler(exc, context):
    """DRF's handler, plus: Django's ValidationError (raised by model validation in services)
    becomes a 400 with field messages; an undeclared oversized body becomes a 413."""
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large_response()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    return drf_exception_handler(exc, context)
