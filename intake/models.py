"""A list of recipients uploaded to trigger a campaign: kept while it is checked and until it is sent."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from campaigns.models import Campaign
from orgs.models import Org
from sends.models import Trigger


class ListUpload(models.Model):
    """One upload of a CSV or XLSX file for "Send to a list": its file, its mapping, what checking found.

    A file of 100,000 rows outlasts a request, so the check and the send run in a worker and report their
    progress here (done of total), which the page polls. Nothing of the trigger is stored until staff
    confirm; the file's content is emptied once its trigger is accepted, so no copy of the list is kept.
    """

    class Status(models.TextChoices):
        CHECKING = "checking"
        CHECKED = "checked"  # ready to confirm, or with problems to fix
        SENDING = "sending"  # confirmed: trigger_accept at work
        SENT = "sent"
        FAILED = "failed"  # refused at confirm (the campaign was paused, a row changed meanwhile)

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    content = models.BinaryField(
        help_text="The file as uploaded (an XLSX as CSV once read); emptied once sent."
    )
    file_sha256 = models.CharField(max_length=64, help_text="Of the file as uploaded.")
    digest = models.CharField(max_length=64, help_text="sha256 of the file, the mapping and the campaign.")
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=list, help_text="Per column: a recipient field, context.<key> or ''.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, help_text="[{row, field, column, message}], the first ones.")
    problem_count = models.PositiveIntegerField(default=0)
    blocking = models.BooleanField(default=False, help_text="Problems that refuse the whole trigger.")
    preview = models.JSONField(default=dict, help_text="The first rows and the first messages rendered.")
    trigger = models.ForeignKey(Trigger, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.filename} for {self.campaign_id}"

    @property
    def idempotency_key(self) -> str:
        # The same file, mapping and campaign confirmed twice (a double click, a second tab) is one trigger.
        return f"list:{self.digest}"
