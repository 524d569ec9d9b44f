"""Brain's audit trail. Public interface: `audit.register(Model, exclude=[...])`."""

from .registry import register, unregister

__all__ = ["register", "unregister"]
