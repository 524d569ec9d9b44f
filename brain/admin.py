from django.contrib import admin

from .models import APIToken


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """API tokens by name, prefix, scope, last use and expiry; never their key, which is stored
    nowhere, nor their digest. Read-only: tokens are made through `POST /api/auth/token` or
    `manage.py create_token`, and revoked here by deleting them (select a user's tokens to revoke
    them all), which takes effect at once."""

    list_display = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "expires_at"]
    list_filter = ["scope"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    fields = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "expires_at"]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
