import factory

from events.models import Severity, SystemEvent


class SystemEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemEvent

    event_type = "health_check"
    severity = Severity.INFO
    message = factory.Sequence(lambda n: f"event {n}")
    details = factory.LazyFunction(lambda: {"ok": True})
    source = "api-1"
