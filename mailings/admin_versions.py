"""Mailing history in the admin: the versions of a mailing, what each changed, and restoring one."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from mailings.models import Mailing
from mailings.versions import mailing_version_record, mailing_version_restore, version_diff


class VersionsMixin:
    """For MailingAdmin: every save is a version; a history page with diffs; restore."""

    def save_model(self, request, obj: Mailing, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        mailing_version_record(mailing=obj, saved_by=request.user, source="admin")

    @admin.display(description="Version")
    def versions_link(self, mailing: Mailing):
        if mailing.pk is None:
            return "—"
        return format_html(
            'Version {} · <a href="{}">History and restore</a>',
            mailing.version, reverse("admin:mailings_mailing_versions", args=[mailing.pk]),
        )  # fmt: skip

    def get_urls(self):
        site = self.admin_site
        return [
            path("<int:pk>/versions/", site.admin_view(self.versions_view), name="mailings_mailing_versions"),
            path(
                "<int:pk>/versions/<int:number>/restore/",
                site.admin_view(require_POST(self.restore_view)),
                name="mailings_mailing_version_restore",
            ),
            *super().get_urls(),
        ]

    def versions_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        mailing = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_or_change_permission(request, mailing):
            return redirect("admin:index")
        versions = list(mailing.versions.select_related("saved_by"))
        rows = [
            {"version": version, "changes": version_diff(older.content if older else None, version.content)}
            for version, older in zip(versions, [*versions[1:], None], strict=False)  # the oldest: None
        ]
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": mailing,
            "title": f"History of {mailing.name}", "rows": rows,
            "can_restore": self.has_change_permission(request, mailing),
        }  # fmt: skip
        return render(request, "admin/mailings/mailing/versions.html", context)

    def restore_view(self, request: HttpRequest, pk: int, number: int) -> HttpResponse:
        mailing = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, mailing):
            return redirect("admin:index")
        version = get_object_or_404(mailing.versions, number=number)
        if version.content.get("channel") != mailing.channel and mailing.in_use:
            messages.error(request, "A campaign sends this mailing on its channel; that version has another.")
        elif mailing_version_restore(version=version, saved_by=request.user) is None:
            messages.info(request, f"The mailing is already as version {number} left it.")
        else:
            messages.success(request, f"Restored version {number}: it is now version {mailing.version}.")
        return redirect("admin:mailings_mailing_versions", pk=mailing.pk)
