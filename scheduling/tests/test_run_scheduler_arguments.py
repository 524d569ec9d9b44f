"""run_scheduler refuses, naming the option, a value it cannot run with, before it claims
anything: it neither clamps nor takes NaN, infinity or a surrogate of argv bytes not in UTF-8."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from scheduling.models import ExecutionResult, SchedulerHeartbeat

from .scheduler_support import make_task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--grace-period", "-5"],
            "argument --grace-period: '-5' is not a number of seconds from 0 to 86400",
        ),
        (
            ["--lease-margin", "-1"],
            "argument --lease-margin: '-1' is not a number of seconds from 0 to 86400",
        ),
        (
            ["--lease-margin", "inf"],
            "argument --lease-margin: 'inf' is not a number of seconds from 0 to 86400",
        ),
        (
            ["--grace-period", "1e300"],
            "argument --grace-period: '1e300' is not a number of seconds from 0 to 86400",
        ),
        (
            ["--poll-interval", "nan"],
            "argument --poll-interval: 'nan' is not a number of seconds above 0 to 86400",
        ),
        (
            ["--poll-interval", "0"],
            "argument --poll-interval: '0' is not a number of seconds above 0 to 86400",
        ),
        (
            ["--batch-size", "99999999999999999999"],
            "argument --batch-size: '99999999999999999999' is not a whole number of tasks from 1 "
            "to 1000",
        ),
        (["--worker-id", ""], "--worker-id is 1 to 100 characters."),
        (
            ["--worker-id", "host\udcff"],
            "--worker-id: Surrogate characters are not allowed: U+DCFF.",
        ),
    ],
)
def test_a_bad_option_is_refused_naming_it(arguments, message):
    with pytest.raises(CommandError) as raised:
        call_command("run_scheduler", "--once", *arguments)

    assert str(raised.value).removeprefix("Error: ") == message
    assert not SchedulerHeartbeat.objects.exists()


def test_a_grace_period_and_lease_margin_of_0_are_accepted(user):
    make_task(user, next_run_at=timezone.now() - timedelta(seconds=1))

    call_command("run_scheduler", "--once", "--grace-period", "0", "--lease-margin", "0")

    assert ExecutionResult.objects.count() == 1
