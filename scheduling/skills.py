"""The skill registry: a skill is a Python callable registered by name that takes a task's
params_json and returns text output (or raises), and declares who may schedule and run it."""

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured, ValidationError

from .validators import validate_storable_text

_registry = {}

# What a maintenance skill (a purge, an import: anything that writes beyond its owner's own rows)
# needs of its owner: ScheduledTask's Meta.permissions. Superusers hold every permission; an
# operator grants it to anyone else in the admin (directly or through a group).
RUN_MAINTENANCE_SKILLS = "scheduling.run_maintenance_skills"


@dataclass(frozen=True)
class Skill:
    name: str
    function: object
    description: str = ""
    # {name: {"type": ..., "required": bool, "default": ..., "description": ..., "minimum": ...,
    # "maximum": ...}}; a bound of a number may be a function, read when a value is checked (a
    # setting's value).
    parameters: dict = field(default_factory=dict)
    # The Django permission an owner needs to schedule and run the skill; None: any active user.
    permission: str | None = RUN_MAINTENANCE_SKILLS

    def refusal(self, user):
        """Why `user` may not schedule or run this skill, or None when they may: an active user
        holding the skill's permission (`user.has_perm`), any active user when it needs none."""
        username = user.get_username()
        if not user.is_active:
            return f"{username} may not use the skill {self.name}: the account is deactivated."
        if self.permission is not None and not user.has_perm(self.permission):
            return (
                f"{username} may not use the skill {self.name}: it needs the permission "
                f"{self.permission}."
            )
        return None

    @property
    def parameter_list(self):
        """The parameters as a list of {name, type, required, default, description, minimum,
        maximum} (a bound is None when the parameter has none)."""
        return [
            {
                "name": name,
                "type": spec.get("type", "string"),
                "required": spec.get("required", False),
                "default": spec.get("default"),
                "description": spec.get("description", ""),
                "minimum": _bound(spec, "minimum"),
                "maximum": _bound(spec, "maximum"),
            }
            for name, spec in self.parameters.items()
        ]


def _bound(spec, name):
    bound = spec.get(name)
    return bound() if callable(bound) else bound


# A parameter's declared type -> the JSON values it takes (a bool is not a number).
_PARAMETER_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_ARTICLES = {"integer": "an", "object": "an", "array": "an"}


def params_errors(skill, params):
    """The problems of `params` (a task's params_json, a dict) for `skill`, as messages: a
    parameter the skill does not declare, a required one missing, one of the wrong type, a
    number outside its declared minimum and maximum. Checked when a task is saved, so a typo or
    a value the skill cannot use fails at once rather than at every run."""
    errors = []
    for name in params:
        if name not in skill.parameters:
            takes = ", ".join(skill.parameters) or "no parameters"
            errors.append(f"{skill.name} has no parameter {name!r}; it takes {takes}.")
    for name, spec in skill.parameters.items():
        if name not in params:
            if spec.get("required", False):
                errors.append(f"{skill.name} requires the parameter {name!r}.")
            continue
        value, kind = params[name], spec.get("type", "string")
        accepted = _PARAMETER_TYPES.get(kind)
        if accepted is not None and (
            not isinstance(value, accepted) or (isinstance(value, bool) and kind != "boolean")
        ):
            errors.append(f"{name!r} must be {_ARTICLES.get(kind, 'a')} {kind}; got {value!r}.")
        elif (minimum := _bound(spec, "minimum")) is not None and value < minimum:
            errors.append(f"{name!r} must be at least {minimum}; got {value!r}.")
        elif (maximum := _bound(spec, "maximum")) is not None and value > maximum:
            errors.append(f"{name!r} must be at most {maximum}; got {value!r}.")
    return errors


def skill(name, *, description="", parameters=None, permission=RUN_MAINTENANCE_SKILLS):
    """Registers the decorated callable as the skill `name`. `permission` is what its owner needs
    (None: any active user). A skill needs RUN_MAINTENANCE_SKILLS unless it says otherwise, so
    a skill that forgets to declare is closed to ordinary users, never open to everyone."""

    def register(function):
        if name in _registry:
            raise ImproperlyConfigured(f"A skill named {name!r} is already registered.")
        _registry[name] = Skill(
            name=name,
            function=function,
            description=description or (function.__doc__ or "").strip(),
            parameters=parameters or {},
            permission=permission,
        )
        return function

    return register


def get_skill(name):
    """The registered Skill called `name`, or None."""
    return _registry.get(name)


def validate_skill_name(value):
    """A task's skill_name names a registered skill (the model's validator, so the API, the
    admin, the services and the commands all refuse an unknown one). A name with characters
    PostgreSQL cannot store is validate_storable_text's to report (the API's CharField's), once."""
    try:
        validate_storable_text(value)
    except ValidationError:
        return
    if get_skill(value) is None:
        raise ValidationError(f"Unknown skill {value!r}.", code="unknown_skill")


def all_skills():
    """Every registered skill, by name."""
    return sorted(_registry.values(), key=lambda registered: registered.name)
