from rest_framework import serializers

from campaigns.models import Campaign
from core.inputs import MAX_SCHEDULE_SECONDS
from mailings.models import Channel, Mailing
from orgs.api import StrictModelSerializer


class OrgMailingField(serializers.PrimaryKeyRelatedField):
    """A mailing of the request's org and of one channel; another org's mailing does not exist here."""

    def __init__(self, channel: str, **kwargs):
        self.channel = channel
        super().__init__(required=False, allow_null=True, **kwargs)

    def get_queryset(self):
        return Mailing.objects.filter(org=self.context["org"])

    def to_internal_value(self, data):
        mailing = super().to_internal_value(data)
        if mailing.channel != self.channel:
            raise serializers.ValidationError(f"Mailing {mailing.pk} is a {mailing.channel} mailing.")
        return mailing


class CampaignSerializer(StrictModelSerializer):
    email_mailing = OrgMailingField(Channel.EMAIL)
    sms_mailing = OrgMailingField(Channel.SMS)
    link_id = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The trigger-launch v1.0 secret link: a credential that triggers the campaign, so it is "
        "shown only to tokens with the send scope (null to others).",
    )  # fmt: skip

    class Meta:
        model = Campaign
        fields = [
            "id", "key", "name", "status", "email_mailing", "sms_mailing", "delay_seconds", "kind",
            "transactional_critical", "send_windows", "cap_sends", "cap_period_seconds", "cap_scope",
            "dedup_seconds", "object_id", "link_id", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "object_id", "link_id", "created_at", "updated_at"]
        # The bound of a trigger's own delay: a larger one would overflow when added to the time of a trigger.
        extra_kwargs = {"delay_seconds": {"max_value": MAX_SCHEDULE_SECONDS}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        token = getattr(getattr(self.context.get("request"), "user", None), "token", None)
        if token is None or not token.has_scope("send"):
            data["link_id"] = None  # a read-only token must not be able to trigger through the link
        return data

    def validate(self, attrs):
        cap = [
            attrs.get(name, getattr(self.instance, name, None))
            for name in ("cap_sends", "cap_period_seconds")
        ]
        if (cap[0] is None) != (cap[1] is None):
            raise serializers.ValidationError(
                {"cap_sends": "Give both cap_sends and cap_period_seconds, or neither."}
            )
        return attrs

    def validate_key(self, value):
        others = Campaign.objects.filter(org=self.context["org"], key=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"This org already has a campaign with key '{value}'.")
        return value
