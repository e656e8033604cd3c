from orgs.api import OrgScopedViewSet
from recipients.models import Recipient, normalize_email
from recipients.serializers import RecipientSerializer


class RecipientViewSet(OrgScopedViewSet):
    model = Recipient
    serializer_class = RecipientSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if "email" in params:
            queryset = queryset.filter(email=normalize_email(params["email"]))
        if "external_id" in params:
            queryset = queryset.filter(external_id=params["external_id"])
        return queryset
