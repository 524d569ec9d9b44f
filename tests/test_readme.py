"""The API guide's curl walk-through (the shell blocks of docs/api.md, which the README points
newcomers to) runs as written against a server holding the demo data `make run` seeds: every
step answers what the guide says it does, and the demo data is left as it was (the walk-through
creates what it reads, changes and deletes)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from brain.tokens import token_create
from events.models import SystemEvent
from scheduling.models import ExecutionResult, Project, ScheduledTask

API_GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"

# The status of each curl the walk-through runs, in order: events, scheduling, audit. The one
# 400 is the step showing an unknown field and a number for a string refused.
EXPECTED = [
    *[201, 200, 200, 200, 400, 200, 200, 201, 201, 204],
    *[201, 201, 200, 202, 200, 200, 200, 200, 201, 200, 200, 200, 200, 200],
    *[200, 200],
]


def seeded_rows():
    """The demo data a tutorial must leave alone: it creates what it changes."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (SystemEvent, Project, ScheduledTask, ExecutionResult)
    ]


def walk_through(api):
    """The guide's shell blocks, but the token step (the test sets TOKEN), on `api`."""
    blocks = re.findall(r"```sh\n(.*?)```", API_GUIDE.read_text(), re.S)
    script = "\n".join(block for block in blocks if "/api/auth/token" not in block)
    return script.replace("http://127.0.0.1:8000/api", api)


@pytest.mark.django_db(transaction=True)
def test_the_api_guide_walk_through_runs_as_written_on_the_demo_data(
    live_server, tmp_path, keep_partitions
):
    call_command("seed", events=50, executions=2, verbosity=0)
    admin = get_user_model().objects.create_superuser("admin", password="admin-password-1")
    seeded = seeded_rows()
    statuses = tmp_path / "statuses"
    # Each curl also writes its status to a file; nothing else of the script is changed.
    wrapper = (
        f"curl() {{ command curl -sS -w '%{{stderr}}%{{http_code}}\\n' \"$@\" 2>>{statuses}; }}"
    )

    ran = subprocess.run(
        [
            "bash",
            "-e",
            "-o",
            "pipefail",
            "-c",
            f"{wrapper}\n{walk_through(live_server.url + '/api')}",
        ],
        env={**os.environ, "TOKEN": token_create(user=admin)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert [int(line) for line in statuses.read_text().split()] == EXPECTED
    after = seeded_rows()
    assert [rows[: len(before)] for rows, before in zip(after, seeded, strict=True)] == seeded
