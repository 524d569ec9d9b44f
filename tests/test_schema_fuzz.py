"""Property-based fuzzing of every operation in Brain's own OpenAPI schema with schemathesis:
no operation may answer 5xx, and every response must match the schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.content_type_conformance,
]


@pytest.fixture
def staff_token(django_user_model):
    user = django_user_model.objects.create_user(
        "fuzzer", password="fuzz-password-1", is_staff=True
    )
    return Token.objects.create(user=user).key


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_operation(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS)
