from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from . import admin_display
from .models import APIToken

# The colour of a token's state in the list.
TOKEN_COLOURS = {"expired": "#ba2121"}


class ExpiredFilter(admin.SimpleListFilter):
    """Tokens past their expiry, or those that still authenticate (no expiry, or a later one)."""

    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return queryset


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """API tokens by name, prefix, scope, last use and expiry (an expired token marked so); never
    their key, which is stored nowhere, nor their digest. Read-only: tokens are made through
    `POST /api/auth/token` or `manage.py create_token`, and revoked here by deleting them, or
    every token of a user at once, which takes effect at once."""

    list_display = [
        "name",
        "prefix",
        "user_shown",
        "scope",
        "created_at_shown",
        "last_used_at_shown",
        "expires_at_shown",
    ]
    list_filter = ["scope", ExpiredFilter]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    fields = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "expires_at"]
    ordering = ["-created_at"]
    actions = ["revoke_users_tokens"]

    class Media:
        css = {"all": ["brain/admin.css"]}

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

    # Not the `user` field itself: the admin keeps a foreign key's cell on one line.
    @admin.display(description="User", ordering="user__username")
    def user_shown(self, token):
        return token.user.username

    @admin.display(description="Created at", ordering="created_at")
    def created_at_shown(self, token):
        return admin_display.date_time(token.created_at)

    @admin.display(description="Last used at", ordering="last_used_at")
    def last_used_at_shown(self, token):
        return admin_display.date_time(token.last_used_at)

    @admin.display(description="Expires at", ordering="expires_at")
    def expires_at_shown(self, token):
        if not token.is_expired():
            return admin_display.date_time(token.expires_at)
        return format_html(
            "{}<br>{}",
            admin_display.badge("expired", TOKEN_COLOURS),
            admin_display.date_time(token.expires_at),
        )
