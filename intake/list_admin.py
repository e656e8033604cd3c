"""The campaign page's "Send to a list…": upload a CSV or XLSX file, check it, see the preview, confirm.

Registered on CampaignAdmin from here (intake/apps.py): confirming calls trigger_accept, which a campaign's
own admin, a floor below, may not name. The campaign is found through CampaignAdmin's own scoped queryset,
so another org's campaign is a 404, and sending takes the right to change the campaign in its org.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from campaigns.models import Campaign
from core.errors import Invalid
from sends.admin import framed_html

from .list_files import CONTEXT, RECIPIENT_FIELDS, SKIP
from .lists import list_upload_check, list_upload_create, list_upload_map, list_upload_send
from .models import ListUpload
from .tasks import list_upload_start

UPLOAD_URL = "campaigns_campaign_send_to_list"
PREVIEW_URL = "campaigns_campaign_list_upload"


class ListFileForm(forms.Form):
    file = forms.FileField(
        label="A CSV or XLSX file", help_text="The first row names the columns: email, phone, first_name…"
    )


class MappingForm(forms.Form):
    """Per column: the recipient field it fills, the context key, or nothing."""

    def __init__(self, *args, upload: ListUpload, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for i, (header, target) in enumerate(zip(upload.headers, upload.mapping, strict=True)):
            choices = [(SKIP, "(left out)"), *((f, f) for f in RECIPIENT_FIELDS)]
            own_key = CONTEXT + header if header else ""
            for key in dict.fromkeys(k for k in (target, own_key) if k.startswith(CONTEXT)):
                choices.append((key, key))
            self.fields[f"column_{i}"] = forms.ChoiceField(
                label=header or f"Column {i + 1}", choices=choices, initial=target, required=False
            )

    def mapping(self) -> list[str]:
        return [self.cleaned_data[f"column_{i}"] for i in range(len(self.fields))]


def send_to_list_urls(model_admin) -> list:
    site = model_admin.admin_site

    def upload_view(request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = _campaign(model_admin, request, object_id)
        form = ListFileForm(request.POST or None, request.FILES or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            file = form.cleaned_data["file"]
            try:
                upload = list_upload_create(
                    org=campaign.org,
                    campaign=campaign,
                    user=request.user,
                    name=file.name,
                    content=file.read(),
                )
            except Invalid as exc:
                for problem in exc.problems:
                    form.add_error("file", f"{problem.field}: {problem.message}")
            else:
                list_upload_start(upload=upload, work=list_upload_check)
                return redirect(reverse(f"admin:{PREVIEW_URL}", args=[campaign.pk, upload.pk]))
        if form.errors:
            status = 400
        context = _context(model_admin, request, campaign, f"Send {campaign} to a list", form=form)
        return render(request, "admin/campaigns/campaign/send_to_list.html", context, status=status)

    def preview_view(request: HttpRequest, object_id: str, upload_id: int) -> HttpResponse:
        campaign = _campaign(model_admin, request, object_id)
        upload = ListUpload.objects.filter(pk=upload_id, campaign=campaign).select_related("trigger").first()
        if upload is None:
            raise Http404("No list with this id.")
        mapping_form = MappingForm(request.POST or None, upload=upload)
        status = 200
        if request.method == "POST" and "confirm" in request.POST:
            if not list_upload_start(upload=upload, work=list_upload_send):
                messages.info(request, "The list is being sent; this page follows it.")
            return redirect(request.path)
        if request.method == "POST" and mapping_form.is_valid():
            try:
                list_upload_map(upload=upload, mapping=mapping_form.mapping())
            except Invalid as exc:
                for problem in exc.problems:
                    mapping_form.add_error(None, f"{problem.field}: {problem.message}")
                status = 400
            else:
                list_upload_start(upload=upload, work=list_upload_check)
                return redirect(request.path)
        upload.refresh_from_db()
        messages_shown = [
            {**m, "framed": framed_html(m["html"]) if m.get("html") else ""}
            for m in upload.preview.get("messages", [])
        ]
        context = _context(
            model_admin, request, campaign, f"Send {campaign} to {upload.filename}", upload=upload,
            mapping_form=mapping_form, rendered=messages_shown, working=upload.status in _WORKING,
            shown_more=upload.problem_count - len(upload.problems),
            rows_more=upload.total - len(upload.preview.get("rows", [])),
        )  # fmt: skip
        return render(request, "admin/campaigns/campaign/list_upload.html", context, status=status)

    return [
        path("<path:object_id>/send-to-list/", site.admin_view(upload_view), name=UPLOAD_URL),
        path(
            "<path:object_id>/send-to-list/<int:upload_id>/", site.admin_view(preview_view), name=PREVIEW_URL
        ),
    ]


_WORKING = {ListUpload.Status.CHECKING, ListUpload.Status.SENDING}


def _campaign(model_admin, request: HttpRequest, object_id: str) -> Campaign:
    campaign = model_admin.get_object(request, object_id)  # the admin's scoped queryset: the user's orgs
    if campaign is None:
        raise Http404("No campaign with this id.")
    if not model_admin.has_change_permission(request, campaign):
        raise PermissionDenied("Sending a campaign to a list takes a role that may change it.")
    return campaign


def _context(model_admin, request, campaign: Campaign, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request), "opts": Campaign._meta, "original": campaign,
        "campaign": campaign, "title": title, **extra,
    }  # fmt: skip
