from django.apps import AppConfig


class AuditTestsConfig(AppConfig):
    """Models that exist only in the test settings, audited as any project model is."""

    name = "audit.tests.auditapp"
    label = "audit_tests"
