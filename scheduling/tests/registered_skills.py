"""A skill the tests schedule: the built-in skills are registered by the scheduler's module."""

from scheduling.skills import skill


@skill("test.noop", description="Does nothing; for tests.")
def noop(params):
    return "ok"
