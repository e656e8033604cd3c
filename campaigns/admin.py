import contextvars
import zoneinfo
from collections.abc import Callable

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from campaigns.admin_howto import HowToCallMixin
from campaigns.models import Campaign
from campaigns.windows import next_opening
from core.inputs import timezone_problem
from orgs.admin_scoping import OrgScopedAdmin

MAX_ZONES = 6
# The zone staff asked about on this page (?zone=Asia/Tokyo), for the read-only field that answers it.
_asked_zone: contextvars.ContextVar[str] = contextvars.ContextVar("asked_zone", default="")

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _asked_zone.set(request.GET.get("zone", "")[:64].strip())
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()  # while the zone asked about is known to the field below
            return response
        finally:
            _asked_zone.reset(token)

    @admin.display(description="A send triggered now would go")
    def next_send_times(self, campaign: Campaign):
        """In a zone asked about, the org's and its recipients' zones, as the saved windows say."""
        if campaign.pk is None:
            return "-"
        now = timezone.now()
        asked = _asked_zone.get()
        problem = timezone_problem(asked)
        zones = [asked] if asked and not problem else []
        zones += [campaign.org.timezone, *campaign.org.recipients.exclude(timezone="")
                  .order_by().values_list("timezone", flat=True).distinct()[:MAX_ZONES]]  # fmt: skip
        rows = []
        for zone in dict.fromkeys(zones):
            opening = next_opening(campaign.windows, zone, now)
            local = opening and opening.astimezone(zoneinfo.ZoneInfo(zone))
            rows.append((zone, "now" if local is None else f"{local:%a %d %b %H:%M}, when the window opens"))
        # The input belongs to a form of its own after the change form (change_form.html): a GET of this page.
        ask = format_html(
            '<br><input type="text" name="zone" form="zone-preview" value="{}" placeholder="Asia/Tokyo" '
            'aria-label="A time zone"> <button type="submit" form="zone-preview">Show for this zone</button>'
            "{}",
            asked, format_html('<br><span class="errornote">{}</span>', problem) if problem else "",
        )  # fmt: skip
        return format_html("{}{}", format_html_join(mark_safe("<br>"), "{}: {}", rows), ask)
