import pytest

# Imported for its side effect: registers the `test.noop` skill once per process.
from . import registered_skills  # noqa: F401


@pytest.fixture
def skill_name():
    return "test.noop"
