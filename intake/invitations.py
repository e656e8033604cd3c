"""The invitation email to join an org, sent as a trigger of a system campaign of that org.

So it is one more send: in the org's send log with its delivery events, held back from a suppressed
address, retried like any other. orgs.members decides who may invite whom; this module only sends, and is
registered with it when the apps load (intake/apps.py).
"""

from typing import Any

from django.db import IntegrityError, transaction

from campaigns.models import Campaign, CampaignKind
from mailings.models import Channel, Mailing
from mailings.versions import mailing_version_record
from orgs.members import invitation_sender_register
from orgs.models import Invitation, Org
from sends.models import Send

from .accept import trigger_accept
from .commands import RecipientSpec, TriggerCommand

CAMPAIGN_KEY = "herald-invitation"

# The org's own mailing, made on first use: its staff may word it otherwise, as they word any mailing.
SUBJECT = "You are invited to {{ context.org }} on Herald"
TEXT = """Hello,

{{ context.inviter }} invites you to work in {{ context.org }} on Herald, as {{ context.role }}.

Accept the invitation here; the link works once, until {{ context.expires }}:
{{ context.accept_url }}

If you did not expect this, ignore this email.
"""
HTML = """<p>Hello,</p>
<p>{{ context.inviter }} invites you to work in <b>{{ context.org }}</b> on Herald, as {{ context.role }}.</p>
<p><a href="{{ context.accept_url }}">Accept the invitation</a>.
The link works once, until {{ context.expires }}.</p>
<p>If you did not expect this, ignore this email.</p>
"""
SCHEMA = {"type": "object", "required": ["org", "role", "accept_url", "expires", "inviter"]}


def invitation_campaign(org: Org) -> Campaign:
    """The org's invitation campaign: transactional (no unsubscribe link) but not critical, so it heeds
    suppressions. Made on first use; two first uses at once make one (the campaign's key is unique)."""
    campaign = Campaign.objects.filter(org=org, key=CAMPAIGN_KEY).select_related("email_mailing").first()
    if campaign is not None:
        return campaign
    try:
        with transaction.atomic():
            mailing = Mailing.objects.create(
                org=org, name="Invitation to join (Herald)", channel=Channel.EMAIL, subject=SUBJECT,
                text=TEXT, html=HTML, context_schema=SCHEMA,
                sample_context={"org": org.name, "role": "marketer", "accept_url": "https://herald.example/…",
                                "expires": "2026-01-08 12:00 UTC", "inviter": "Ada"},
            )  # fmt: skip
            mailing_version_record(mailing=mailing, source="Herald")
            return Campaign.objects.create(
                org=org, key=CAMPAIGN_KEY, name="Invitations to join the org (Herald)", email_mailing=mailing,
                kind=CampaignKind.TRANSACTIONAL, transactional_critical=False,
            )  # fmt: skip
    except IntegrityError:
        return Campaign.objects.get(org=org, key=CAMPAIGN_KEY)


def invitation_send(*, invitation: Invitation, accept_url: str, actor: Any = None) -> Send:
    inviter = "An operator" if actor is None or actor.is_superuser else actor.get_username()
    command = TriggerCommand(
        recipients=[RecipientSpec(email=invitation.email)],
        context={
            "org": invitation.org.name, "role": invitation.role, "accept_url": accept_url, "inviter": inviter,
            "expires": f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC",
        },
        reference=f"invitation-{invitation.pk}", source="admin",
    )  # fmt: skip
    result = trigger_accept(org=invitation.org, campaign=invitation_campaign(invitation.org), command=command)
    return result.sends[0]


invitation_sender_register(invitation_send)
