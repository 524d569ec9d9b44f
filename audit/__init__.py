"""Brain's audit trail: a model is audited by inheriting `audit.mixins.AuditedModel` (a model of
brain/, which imports no app, by being named in `audit.registry.OUTSIDE_MODELS`)."""
