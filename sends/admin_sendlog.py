"""The send log as support uses it: one search box, a timeline per send, re-triggers with a confirmation."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from campaigns.models import Campaign
from core.errors import HeraldError
from sends.admin_events import ReadOnlyAdminMixin
from sends.models import Send, SendAttempt
from sends.selectors import send_search_filter, sends_failed_since
from sends.services import sends_retrigger

# Re-triggers are built in one transaction in one request: more than this at once is refused, not timed out.
MAX_RETRIGGER = 10_000
SEARCH_HELP = (
    "An email address, a phone number, a correlation id, the caller's own id for the trigger (a "
    "correlationId, requestId, reference or Idempotency-Key) or a provider message id (exact match)."
)


class EstimatedCountPaginator(Paginator):
    """The unfiltered send log's size from PostgreSQL's statistics: counting millions of rows is slow."""

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        if connection.vendor == "postgresql" and not self.object_list.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Send._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > self.ESTIMATE_ABOVE:
                return row[0]
        return super().count


class SendAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SendAttempt
    fields = ["number", "at", "outcome", "error"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "Attempts that went wrong"


class RetriggerFailedForm(forms.Form):
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none())
    since = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Failed sends created at or after this moment (UTC).",
    )

    def __init__(self, *args, campaigns, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = campaigns


def send_timeline(send: Send) -> list[tuple]:
    """What happened to a send, oldest first: (when, what, link)."""
    entries = [(send.created_at, "Accepted", "")]
    if send.retriggered_from_id:
        link = reverse("admin:sends_send_change", args=[send.retriggered_from_id])
        entries.append((send.created_at, f"Re-trigger of send {send.retriggered_from_id}", link))
    if send.scheduled_at:
        entries.append((send.scheduled_at, "Scheduled (due)", ""))
    if send.claimed_at:
        entries.append((send.claimed_at, f"Claimed by a worker (attempt {send.attempts})", ""))
    entries += [(a.at, f"Attempt {a.number}: {a.outcome}: {a.error}", "") for a in send.attempt_errors.all()]
    if send.failover:
        at = send.sent_at or send.updated_at
        entries += [(at, f"Failed over: {hop}", "") for hop in send.failover.splitlines()]
    if send.sent_at:
        via = f" {send.provider}" if send.provider else ""
        entries.append(
            (send.sent_at, f"Handed to the provider{via} ({send.provider_message_id or 'no id'})", "")
        )
    for event in send.events.all():
        detail = (
            f": {event.description or event.mta_response}" if event.description or event.mta_response else ""
        )
        entries.append(
            (event.occurred_at or event.created_at, f"{event.event_type} ({event.esp_name}){detail}", "")
        )
    for retrigger in send.retriggers.all():
        link = reverse("admin:sends_send_change", args=[retrigger.pk])
        entries.append(
            (retrigger.created_at, f"Re-triggered as send {retrigger.pk} ({retrigger.status})", link)
        )
    return sorted(entries, key=lambda entry: entry[0])


class SendLogMixin:
    """For SendAdmin: exact search, a cheap count, the timeline, and re-triggers that say how many first."""

    search_help_text = SEARCH_HELP
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    class Media:
        css = {"all": ["mailings/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        found = send_search_filter(search_term)
        return (queryset if found is None else queryset.filter(found)), False

    @admin.display(description="Timeline")
    def timeline(self, send: Send):
        items = format_html_join(
            "", "<li><time>{}</time> {}</li>",
            ((f"{when:%Y-%m-%d %H:%M:%S}", format_html('<a href="{}">{}</a>', link, what) if link else what)
             for when, what, link in send_timeline(send)),
        )  # fmt: skip
        return format_html('<ol class="herald-timeline">{}</ol>', items)

    @admin.action(description="Re-trigger selected sends…", permissions=["view"])
    def retrigger(self, request: HttpRequest, queryset) -> HttpResponse | None:
        count = queryset.count()
        if count > MAX_RETRIGGER:
            messages.error(
                request, f"{count} sends selected: re-trigger at most {MAX_RETRIGGER:,} at a time."
            )
            return None
        if request.POST.get("post") == "yes":
            created = self._retrigger(request, queryset)
            if created is None:
                return None
            messages.success(
                request, f"Re-triggered {len(created)} send(s); each new send links to its original."
            )
            return None
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Re-trigger sends?",
            "count": count, "sample": queryset.select_related("campaign")[:20],
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }  # fmt: skip
        return render(request, "admin/sends/send/retrigger_confirm.html", context)

    def _retrigger(self, request: HttpRequest, sends) -> list[Send] | None:
        try:
            return sends_retrigger(sends=sends.select_related("recipient"), actor=request.user)
        except HeraldError as exc:  # e.g. purged sends, whose context is gone
            messages.error(request, " ".join([exc.message, *(p.message for p in exc.problems)]))
            return None

    def get_urls(self):
        view = self.admin_site.admin_view(self.retrigger_failed_view)
        return [path("retrigger-failed/", view, name="sends_send_retrigger_failed"), *super().get_urls()]

    def retrigger_failed_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return redirect("admin:index")
        campaign_admin = self.admin_site._registry.get(Campaign)
        campaigns = campaign_admin.get_queryset(request) if campaign_admin else Campaign.objects.all()
        data = request.POST if request.method == "POST" else (request.GET if "since" in request.GET else None)
        # From a campaign's page: its campaign chosen, the moment left to the person.
        form = RetriggerFailedForm(
            data, campaigns=campaigns, initial={"campaign": request.GET.get("campaign")}
        )
        count = None
        if form.is_valid():
            failed = sends_failed_since(
                sends=self.get_queryset(request), campaign_id=form.cleaned_data["campaign"].pk,
                since=form.cleaned_data["since"],
            )  # fmt: skip
            count = failed.count()
            if count > MAX_RETRIGGER:
                form.add_error(
                    "since",
                    f"{count} failed sends: at most {MAX_RETRIGGER:,} at a time; choose a later moment.",
                )
                count = None
            elif request.method == "POST" and (created := self._retrigger(request, failed)) is not None:
                messages.success(
                    request, f"Re-triggered {len(created)} failed send(s) of {form.cleaned_data['campaign']}."
                )
                changelist = reverse("admin:sends_send_changelist")
                return redirect(f"{changelist}?campaign__id__exact={form.cleaned_data['campaign'].pk}")
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "count": count,
            "title": "Re-trigger failed sends of a campaign",
        }  # fmt: skip
        return render(request, "admin/sends/send/retrigger_failed.html", context)
