"""The registry of agent types: the usual roles, extended by the BRAIN_AGENT_TYPES setting."""

from django.conf import settings

BUILTIN_AGENT_TYPES = (
    "coder",
    "reviewer",
    "tester",
    "researcher",
    "planner",
    "architect",
    "devops",
    "analyst",
    "documenter",
    "security",
)


def agent_types():
    """Every known agent type: the built-in roles, then those the BRAIN_AGENT_TYPES setting adds.
    The setting is read on every call, so a deployment (or a test) can extend it at any time."""
    extra = [name for name in settings.BRAIN_AGENT_TYPES if name not in BUILTIN_AGENT_TYPES]
    return (*BUILTIN_AGENT_TYPES, *extra)
