"""JSON errors for every failure the API can meet, with field messages for bad input."""

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from brain.middleware import payload_too_large_response


def exception_handler(exc, context):
    """DRF's handler, plus: Django's ValidationError (raised by model validation in services)
    becomes a 400 with field messages (those of no one field under "non_field_errors", as DRF's
    own); an undeclared oversized body becomes a 413. Every 404 says "Not found.": a row that
    does not exist (or that the user may not see), and a model's DoesNotExist, which a service
    raises when the row it locks was deleted by a concurrent request (brain.db.rows.lock_row),
    the same answer a later request gets."""
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large_response()
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoValidationError):
        # A model's errors not tied to one field come as "__all__"; the API names them as DRF's
        # serializers do.
        detail = {
            api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else key: messages
            for key, messages in as_serializer_error(exc).items()
        }
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
