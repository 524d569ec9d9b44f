"""`manage.py run_scheduler` refuses numeric options it cannot run with, before it runs anything."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from scheduling.models import ExecutionResult

from .scheduler_support import make_task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--grace-period", "-1", "--grace-period must be a number at least 0; got -1.0."),
        ("--grace-period", "nan", "--grace-period must be a number at least 0; got nan."),
        ("--lease-margin", "-0.5", "--lease-margin must be a number at least 0; got -0.5."),
        ("--poll-interval", "0", "--poll-interval must be a number above 0; got 0.0."),
        ("--poll-interval", "inf", "--poll-interval must be a number above 0; got inf."),
        ("--batch-size", "0", "--batch-size must be a number at least 1; got 0."),
    ],
)
def test_a_negative_or_unusable_number_is_refused_and_nothing_runs(user, option, value, message):
    make_task(user, next_run_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(CommandError) as refused:
        call_command("run_scheduler", "--once", option, value)

    assert str(refused.value) == message
    assert not ExecutionResult.objects.exists()


def test_a_grace_period_and_lease_margin_of_0_are_accepted(user):
    make_task(user, next_run_at=timezone.now() - timedelta(seconds=1))

    call_command("run_scheduler", "--once", "--grace-period", "0", "--lease-margin", "0")

    assert ExecutionResult.objects.count() == 1
