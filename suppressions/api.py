from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from orgs.api import OrgScopedViewSet
from suppressions.models import Suppression, address_hash
from suppressions.serializers import SuppressionSerializer
from suppressions.services import suppression_add, suppression_lift


class SuppressionViewSet(OrgScopedViewSet):
    """List, look up, add (manual) and lift (DELETE) the addresses an org does not send to."""

    model = Suppression
    serializer_class = SuppressionSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset().select_related("source_event")
        params = self.request.query_params
        if "address" in params:
            # By hash: an erased address, of which only the hash is left, is found too.
            queryset = queryset.filter(address_hash=address_hash(self.org.pk, params["address"]))
        if "reason" in params:
            queryset = queryset.filter(reason=params["reason"])
        return queryset

    @extend_schema(
        responses={
            201: SuppressionSerializer,
            200: OpenApiResponse(
                SuppressionSerializer, description="Already suppressed: the suppression that stands."
            ),
        }
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        suppression, created = suppression_add(
            org=self.org,
            address=serializer.validated_data["address"],
            reason=Suppression.Reason.MANUAL,
            scope=serializer.validated_data.get("scope", Suppression.Scope.ALL),
        )
        # Adding an address already suppressed is no error: the answer is the suppression that stands.
        return Response(
            self.get_serializer(suppression).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance: Suppression) -> None:
        suppression_lift(suppression=instance, actor=self.request.user)
