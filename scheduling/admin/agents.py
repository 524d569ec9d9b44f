"""Agents in the admin, by last activity."""

from django import forms
from django.contrib import admin
from django.db.models import F
from django.utils.timesince import timesince

from .. import services
from ..agent_types import agent_types
from ..models import AGENT_NAME_TAKEN, Agent
from ..selectors import agent_list_named
from .base import ServiceAdmin


class AgentAdminForm(forms.ModelForm):
    type = forms.ChoiceField(choices=())

    class Meta:
        model = Agent
        fields = ["name", "type", "capabilities_json", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at form time: BRAIN_AGENT_TYPES may extend the registry.
        self.fields["type"].choices = [(name, name) for name in agent_types()]

    def clean_name(self):
        # As the API reports it: on `name` (model validation has no field for an expression).
        name = self.cleaned_data["name"]
        if agent_list_named(name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(AGENT_NAME_TAKEN, code="unique")
        return name


@admin.register(Agent)
class AgentAdmin(ServiceAdmin):
    form = AgentAdminForm
    list_display = ["name", "type", "status", "last_active_at", "since_last_active"]
    list_filter = ["type", "status"]
    ordering = [F("last_active_at").desc(nulls_last=True), "name"]
    search_fields = ["name"]
    date_hierarchy = "last_active_at"
    readonly_fields = ["last_active_at"]

    @admin.display(description="Since last activity", ordering="last_active_at")
    def since_last_active(self, agent):
        return f"{timesince(agent.last_active_at)} ago" if agent.last_active_at else "never"

    def create(self, form):
        return services.agent_create(**form.cleaned_data)

    def update(self, instance, changes):
        return services.agent_update(agent=instance, data=changes)

    def delete(self, instance):
        services.agent_delete(agent=instance)
