from rest_framework.exceptions import ValidationError

from mailings.models import Mailing
from mailings.serializers import MailingSerializer
from mailings.services import mailing_delete, mailing_update
from mailings.versions import mailing_version_record
from orgs.api import OrgScopedViewSet
from orgs.services import actor_identity


class MailingViewSet(OrgScopedViewSet):
    model = Mailing
    serializer_class = MailingSerializer

    def perform_create(self, serializer):
        super().perform_create(serializer)
        mailing_version_record(mailing=serializer.instance, source=actor_identity(self.request.user)[2])

    def perform_update(self, serializer):
        mailing_update(
            mailing=serializer.instance, changes=serializer.validated_data, actor=self.request.user
        )

    def perform_destroy(self, instance):
        if instance.in_use:
            raise ValidationError(
                {"id": ["A campaign sends this mailing; remove it from the campaign first."]}
            )
        mailing_delete(mailing=instance, actor=self.request.user)
