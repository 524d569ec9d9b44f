import pytest


@pytest.fixture
def skill_name():
    """A built-in skill (scheduling.builtin_skills) that tasks in these tests can name."""
    return "demo.echo"
