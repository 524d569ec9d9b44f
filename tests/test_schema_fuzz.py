"""Property-based fuzzing of every operation in Brain's own OpenAPI schema with schemathesis, with
valid and invalid data: no operation may answer 5xx, every response must match the schema, and
data the schema forbids must be refused. The stateful phase chains operations (create, then read,
update and delete what was created) and checks that a created resource is there and a deleted
one is gone.

The budget fits the test suite; `make fuzz` runs the same tests with FUZZ_EXAMPLES and
FUZZ_STEPS raised."""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from brain.tokens import token_create
from events.models import SystemEvent
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
STEPS = int(os.environ.get("FUZZ_STEPS", "12"))
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "25"))

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES
)

# The NDJSON body of POST /api/events/bulk is declared as bytes: sent as generated.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")

# The stateful checks (use_after_free, ensure_resource_availability) look at chained calls only.
schema.config.checks.update(
    included_check_names=[
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
        "negative_data_rejection",
        "use_after_free",
        "ensure_resource_availability",
    ]
)
SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture
def staff_token(django_user_model):
    user = django_user_model.objects.create_user(
        "fuzzer", password="fuzz-password-1", is_staff=True
    )
    return token_create(user=user)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@SETTINGS
def test_api_operation(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"})


@pytest.mark.django_db(transaction=True)
def test_api_stateful(staff_token):
    headers = {"Authorization": f"Token {staff_token}"}

    class APIWorkflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def teardown(self):
            # Each scenario starts from the same rows, so that hypothesis replays it with the same
            # answers (an agent's name is free again), whatever ran before it.
            for model in (ExecutionResult, ScheduledTask, Project, Agent, SystemEvent):
                model.objects.all().delete()

    APIWorkflow.run(settings=settings(SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS))
