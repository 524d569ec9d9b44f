from django.contrib import admin

from .models import APIToken


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """API tokens by name, prefix, scope, last use and expiry; never their key, which is stored
    nowhere, nor their digest. Read-only: tokens are made through `POST /api/auth/token` or
    `manage.py create_token`, and revoked here by deleting them, or every token of a user at
    once, which takes effect at once."""

    list_display = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "expires_at"]
    list_filter = ["scope"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    fields = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "expires_at"]
    ordering = ["-created_at"]
    actions = ["revoke_users_tokens"]

    @admin.action(
        description="Revoke every token of the selected tokens' users", permissions=["delete"]
    )
    def revoke_users_tokens(self, request, queryset):
        count, _ = APIToken.objects.filter(user__in=queryset.values("user_id")).delete()
        self.message_user(request, f"{count} API tokens revoked.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
