import zoneinfo
from collections.abc import Callable

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from campaigns.admin_howto import HowToCallMixin
from campaigns.models import Campaign
from campaigns.windows import next_opening
from orgs.admin_scoping import OrgScopedAdmin

MAX_ZONES = 6

CampaignUrls = Callable[[admin.ModelAdmin], list]
_views: list[CampaignUrls] = []


def campaign_view_register(urls: CampaignUrls) -> CampaignUrls:
    """Add pages under a campaign's admin URL from a higher floor (intake's "Send to a list…")."""
    _views.append(urls)
    return urls


@admin.register(Campaign)
class CampaignAdmin(OrgScopedAdmin, HowToCallMixin, admin.ModelAdmin):
    list_display = ["key", "name", "org", "kind", "status", "email_mailing", "sms_mailing", "delay_seconds"]
    list_filter = ["org", "kind", "status"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "object_id", "link_id", "next_send_times", "created_at", "updated_at"]
    autocomplete_fields = ["email_mailing", "sms_mailing"]

    def get_urls(self):
        # Before the admin's own: its catch-all "<object_id>/" would take "<object_id>/send-to-list/".
        return [url for urls in _views for url in urls(self)] + super().get_urls()

    @admin.display(description="A send triggered now would go")
    def next_send_times(self, campaign: Campaign):
        """In the org's zone and the zones its recipients have, as the saved windows say."""
        if campaign.pk is None:
            return "-"
        now = timezone.now()
        zones = [campaign.org.timezone, *campaign.org.recipients.exclude(timezone="")
                 .order_by().values_list("timezone", flat=True).distinct()[:MAX_ZONES]]  # fmt: skip
        rows = []
        for zone in dict.fromkeys(zones):
            opening = next_opening(campaign.windows, zone, now)
            local = opening and opening.astimezone(zoneinfo.ZoneInfo(zone))
            rows.append((zone, "now" if local is None else f"{local:%a %d %b %H:%M}, when the window opens"))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)
