"""Pieces every app's services share."""


def assign(instance, data, *, updatable):
    """Sets the fields of `data` on `instance`. A field outside `updatable` is the caller's
    mistake, not bad input (the API's serializers refuse unknown fields with a 400 first): a
    TypeError, as Python raises for an unexpected keyword argument, with nothing set."""
    unknown = set(data) - set(updatable)
    if unknown:
        raise TypeError(
            f"Cannot update {', '.join(sorted(unknown))} of a {type(instance).__name__}."
        )
    for name, value in data.items():
        setattr(instance, name, value)
