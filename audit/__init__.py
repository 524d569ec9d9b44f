"""Brain's audit trail: a model is audited by inheriting `audit.mixins.AuditedModel`."""
