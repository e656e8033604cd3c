"""The native API of campaigns: what they are. Triggering one is intake.api's."""

from orgs.api import OrgScopedViewSet

from .models import Campaign
from .serializers import CampaignSerializer


class CampaignViewSet(OrgScopedViewSet):
    model = Campaign
    serializer_class = CampaignSerializer
    lookup_field = "key"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
    required_scopes = {"read": "read", "write": "manage"}

    def get_queryset(self):
        return super().get_queryset().select_related("email_mailing", "sms_mailing")
