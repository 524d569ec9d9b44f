from rest_framework import serializers

from .models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "user_id",
            "timestamp",
            "operation",
            "table_name",
            "record_id",
            "changed_fields",
            "ip_address",
            "user_agent",
            "request_id",
        ]
        read_only_fields = fields
