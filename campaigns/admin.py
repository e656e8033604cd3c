from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from mailings.models import Send
from orgs.admin_scoping import OrgScopedAdmin

from .admin_howto import HowToCallMixin
from .models import Campaign, Trigger


@admin.register(Campaign)
class CampaignAdmin(OrgScopedAdmin, HowToCallMixin, admin.ModelAdmin):
    list_display = ["key", "name", "org", "kind", "status", "email_mailing", "sms_mailing", "delay_seconds"]
    list_filter = ["org", "kind", "status"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "object_id", "link_id", "created_at", "updated_at"]
    autocomplete_fields = ["email_mailing", "sms_mailing"]


@admin.register(Trigger)
class TriggerAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["id", "campaign", "org", "source", "send_count", "created_at"]
    list_filter = ["source", "campaign"]
    date_hierarchy = "created_at"
    readonly_fields = ["sends_by_status", *[f.name for f in Trigger._meta.fields]]

    class Media:
        css = {"all": ["mailings/admin.css"]}

    @admin.display(description="Sends")
    def sends_by_status(self, trigger: Trigger):
        """How far its dispatch has got, and each status linking to those sends."""
        counts = dict(trigger.sends.order_by().values_list("status").annotate(n=Count("*")))
        done = sum(n for status, n in counts.items() if status in Send.FINAL_STATUSES)
        changelist = reverse("admin:mailings_send_changelist")
        links = format_html_join(
            " · ", '<a href="{}?trigger__id__exact={}&amp;status__exact={}">{} {}</a>',
            ((changelist, trigger.pk, status, n, status) for status, n in sorted(counts.items())),
        )  # fmt: skip
        return format_html(
            '<progress class="herald-progress" max="{}" value="{}"></progress><br>{} of {} done: {}',
            trigger.send_count, done, done, trigger.send_count, links or "no sends",
        )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting a trigger would delete its sends from the log
