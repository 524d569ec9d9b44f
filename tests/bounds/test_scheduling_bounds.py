"""Every bound of the scheduling input (docs/bounds.md), as properties: a value just inside is
accepted and stored as sent, one just outside is refused naming the field and the bound, and
nothing refused is stored, through the API (create and change) and the admin's add forms (the
executions admin has none: it only reads and deletes)."""

import itertools
import json

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from brain.validators import MAX_JSON_BYTES, MAX_JSON_INTEGER
from scheduling.builtin_skills import MAX_AGE_DAYS
from scheduling.models import (
    EXECUTION_TEXT_MAX_LENGTH,
    PROJECT_DESCRIPTION_MAX_LENGTH,
    Agent,
    ExecutionResult,
    Project,
    ScheduledTask,
)
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

from .support import SETTINGS, fingerprint

pytestmark = pytest.mark.django_db

# Text a form and DRF keep as sent: no surrounding whitespace for them to strip, nothing
# PostgreSQL cannot store.
CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Z", "Cc", "Cs"])
STEPS = st.integers(min_value=0, max_value=3)
NO_INLINE_ROWS = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "1000",
}


def _api(client, method, url, body):
    """(accepted, field errors, id of the row written) of one API write."""
    response = getattr(client, method)(url, body, format="json")
    if response.status_code in (200, 201):
        return True, {}, response.json()["id"]
    assert response.status_code == 400, (url, response.status_code, response.content[:500])
    return False, response.json(), None


def _admin_add(client, model, data):
    """(accepted, field errors, id of the new row) of one admin add form."""
    url = f"/admin/scheduling/{model._meta.model_name}/add/"
    response = client.post(url, data)
    if response.status_code == 302:
        return True, {}, model.objects.latest("pk").pk
    assert response.status_code == 200, (url, response.status_code)
    form = response.context["adminform"].form
    return False, {name: list(errors) for name, errors in form.errors.items()}, None


def _check(paths, model, field, inside, outside):
    """Each path of `paths` ({name: (send(value), message refusing `outside`)}) takes every value
    of `inside` and stores it as sent, and refuses every value of `outside` with its message on
    `field`, leaving every row as it was."""
    for path, (send, message) in paths.items():
        for value in inside:
            accepted, errors, pk = send(value)
            assert (path, value, accepted, errors) == (path, value, True, {})
            assert getattr(model.objects.get(pk=pk), field) == value
        for value in outside:
            before = fingerprint()
            accepted, errors, _ = send(value)
            assert (path, accepted, errors) == (path, False, {field: [message(value)]})
            assert fingerprint() == before


def _too_long(longest):
    return {
        "api": lambda value: f"Ensure this field has no more than {longest} characters.",
        "admin": lambda value: (
            f"Ensure this value has at most {longest} characters (it has {len(value)})."
        ),
    }


def _json_of_size(size, shape, text):
    """A JSON object ({"message": ...}) or array (["..."]) of `size` bytes as compact JSON."""
    value = {"message": text} if shape == "object" else [text]
    padding = size - len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    assert padding >= 0
    return {"message": text + "x" * padding} if shape == "object" else [text + "x" * padding]


def _too_large(value):
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    return (
        f"Ensure this field has no more than {MAX_JSON_BYTES} bytes of JSON text (it has {size})."
    )


@pytest.mark.parametrize(
    ("field", "longest"), [("name", 200), ("description", PROJECT_DESCRIPTION_MAX_LENGTH)]
)
@given(character=CHARACTERS, step=STEPS)
@SETTINGS
def test_a_project_text_is_taken_up_to_its_length(
    api_client, admin_client, user, field, longest, character, step
):
    project = ProjectFactory(user=user)
    messages = _too_long(longest)
    paths = {
        "create": (
            lambda value: _api(api_client, "post", "/api/projects", {"name": "p", field: value}),
            messages["api"],
        ),
        "change": (
            lambda value: _api(api_client, "patch", f"/api/projects/{project.pk}", {field: value}),
            messages["api"],
        ),
        "admin": (
            lambda value: _admin_add(
                admin_client,
                Project,
                {"name": "p", "description": "", "user": user.pk, field: value},
            ),
            messages["admin"],
        ),
    }

    _check(
        paths,
        Project,
        field,
        inside=[character * (longest - step)],
        outside=[character * (longest + 1 + step)],
    )


def _task_paths(api_client, admin_client, owner, field, encode, messages, skill="demo.echo"):
    """Create and change through the API (as `api_client`, whose user is `owner`), and the
    admin's add form, each setting `field`."""
    task = ScheduledTaskFactory(user=owner, skill_name=skill, params_json={})

    def admin(value):
        form = {
            "skill_name": skill,
            "schedule_cron": "*/5 * * * *",
            "timezone": "UTC",
            "next_run_at_0": "",
            "next_run_at_1": "",
            "params_json": "{}",
            "status": "pending",
            "timeout_seconds": "300",
            "user": owner.pk,
            "project": "",
        }
        return _admin_add(
            admin_client, ScheduledTask, {**form, **NO_INLINE_ROWS, field: encode(value)}
        )

    new = {"skill_name": skill, "schedule_cron": "*/5 * * * *"}
    return {
        "create": (
            lambda value: _api(api_client, "post", "/api/tasks", {**new, field: value}),
            messages["api"],
        ),
        "change": (
            lambda value: _api(api_client, "patch", f"/api/tasks/{task.pk}", {field: value}),
            messages["api"],
        ),
        "admin": (admin, messages["admin"]),
    }


@given(step=STEPS, beyond=st.integers(min_value=1))
@SETTINGS
def test_a_task_timeout_is_taken_from_one_second_to_the_longest(
    api_client, admin_client, user, step, beyond
):
    longest = settings.TASK_MAX_TIMEOUT_SECONDS

    def message(value):
        if value < 1:
            return "Ensure this value is greater than or equal to 1."
        return f"Ensure this value is less than or equal to {longest}."

    paths = _task_paths(
        api_client, admin_client, user, "timeout_seconds", str, {"api": message, "admin": message}
    )
    _check(
        paths,
        ScheduledTask,
        "timeout_seconds",
        inside=[1 + step, longest - step],
        outside=[0, longest + 1 + step, longest + beyond],
    )


@given(text=st.text(CHARACTERS, max_size=20), step=STEPS)
@SETTINGS
def test_task_parameters_are_taken_up_to_max_json_bytes(api_client, admin_client, user, text, step):
    paths = _task_paths(
        api_client,
        admin_client,
        user,
        "params_json",
        json.dumps,
        {"api": _too_large, "admin": _too_large},
    )
    _check(
        paths,
        ScheduledTask,
        "params_json",
        inside=[_json_of_size(MAX_JSON_BYTES - step, "object", text)],
        outside=[_json_of_size(MAX_JSON_BYTES + 1 + step, "object", text)],
    )


@pytest.mark.parametrize(
    ("skill", "parameter", "least", "most"),
    [
        ("demo.sleep", "seconds", 0, settings.TASK_MAX_TIMEOUT_SECONDS),
        ("events.purge", "older_than_days", 1, MAX_AGE_DAYS),
        ("audit.purge", "older_than_days", 1, MAX_AGE_DAYS),
        ("tokens.purge", "expired_for_days", 0, MAX_AGE_DAYS),
    ],
)
@given(step=STEPS, beyond=st.integers(min_value=1))
@SETTINGS
def test_a_skill_parameter_is_taken_within_its_declared_bounds(
    superuser_client, admin_client, superuser, skill, parameter, least, most, step, beyond
):
    def message(params):
        value = params[parameter]
        if value < least:
            return f"{parameter!r} must be at least {least}; got {value!r}."
        return f"{parameter!r} must be at most {most}; got {value!r}."

    paths = _task_paths(
        superuser_client,
        admin_client,
        superuser,
        "params_json",
        json.dumps,
        {"api": message, "admin": message},
        skill=skill,
    )
    _check(
        paths,
        ScheduledTask,
        "params_json",
        inside=[{parameter: least + step}, {parameter: most - step}],
        outside=[
            {parameter: least - 1 - step},
            {parameter: most + 1 + step},
            {parameter: most + beyond},
        ],
    )


NAMES = (f"agent {n}" for n in itertools.count())


def _agent_paths(staff_client, admin_client, field, encode, messages):
    agent = AgentFactory()

    def admin(value):
        form = {"name": next(NAMES), "type": "coder", "capabilities_json": "[]", "status": "idle"}
        return _admin_add(admin_client, Agent, {**form, field: encode(value)})

    def create(value):
        body = {"name": next(NAMES), "type": "coder", field: value}
        return _api(staff_client, "post", "/api/agents", body)

    return {
        "create": (create, messages["api"]),
        "change": (
            lambda value: _api(staff_client, "patch", f"/api/agents/{agent.pk}", {field: value}),
            messages["api"],
        ),
        "admin": (admin, messages["admin"]),
    }


@given(text=st.text(CHARACTERS, max_size=20), step=STEPS)
@SETTINGS
def test_agent_capabilities_are_taken_up_to_max_json_bytes(staff_client, admin_client, text, step):
    Agent.objects.all().delete()
    paths = _agent_paths(
        staff_client,
        admin_client,
        "capabilities_json",
        json.dumps,
        {"api": _too_large, "admin": _too_large},
    )
    _check(
        paths,
        Agent,
        "capabilities_json",
        inside=[_json_of_size(MAX_JSON_BYTES - step, "array", text)],
        outside=[_json_of_size(MAX_JSON_BYTES + 1 + step, "array", text)],
    )


@given(character=CHARACTERS, step=STEPS)
@SETTINGS
def test_an_agent_name_is_taken_up_to_its_length(staff_client, admin_client, character, step):
    Agent.objects.all().delete()
    paths = _agent_paths(staff_client, admin_client, "name", str, _too_long(100))

    # Names are unique whatever the case: each path takes a name of its own.
    for index, (path, value) in enumerate(paths.items()):
        _check(
            {path: value},
            Agent,
            "name",
            inside=[character * (100 - step - 1) + str(index)],
            outside=[character * (101 + step)],
        )


def _execution_paths(api_client, task, field):
    def create(value):
        return _api(api_client, "post", "/api/executions", {"task_id": task.pk, field: value})

    # Running executions for the completions (one each: a completion is final).
    unfinished = iter(ExecutionResultFactory.create_batch(4, task=task, status=None, ended_at=None))

    def complete(value):
        body = {"status": "success", field: value}
        return _api(api_client, "post", f"/api/executions/{next(unfinished).pk}/complete", body)

    running = ExecutionResultFactory(task=task, status=None, ended_at=None)
    return {
        "create": create,
        "change": lambda value: _api(
            api_client, "patch", f"/api/executions/{running.pk}", {field: value}
        ),
        "complete": complete,
    }


@pytest.mark.parametrize("field", ["output_text", "error_text"])
@given(character=CHARACTERS, step=STEPS)
@SETTINGS
def test_an_execution_text_is_taken_up_to_its_length(api_client, user, field, character, step):
    task = ScheduledTaskFactory(user=user)
    longest = EXECUTION_TEXT_MAX_LENGTH
    message = _too_long(longest)["api"]
    paths = {
        path: (send, message) for path, send in _execution_paths(api_client, task, field).items()
    }

    _check(
        paths,
        ExecutionResult,
        field,
        inside=[character * (longest - step)],
        outside=[character * (longest + 1 + step)],
    )


@given(step=STEPS, beyond=st.integers(min_value=1))
@SETTINGS
def test_a_duration_is_taken_from_zero_to_the_largest_exact_json_integer(
    api_client, user, step, beyond
):
    task = ScheduledTaskFactory(user=user)

    def message(value):
        if value < 0:
            return "Ensure this value is greater than or equal to 0."
        return f"Ensure this value is less than or equal to {MAX_JSON_INTEGER}."

    sends = _execution_paths(api_client, task, "duration_ms")
    paths = {path: (sends[path], message) for path in ("create", "change")}

    _check(
        paths,
        ExecutionResult,
        "duration_ms",
        inside=[step, MAX_JSON_INTEGER - step],
        outside=[-1 - step, MAX_JSON_INTEGER + 1 + step, MAX_JSON_INTEGER + beyond],
    )
