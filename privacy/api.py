from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.errors import Invalid, Problem
from privacy.services import recipient_erase
from recipients.api import RecipientViewSet


class ErasureSerializer(serializers.Serializer):
    recipient = serializers.IntegerField()
    erased = serializers.DictField(child=serializers.IntegerField(), help_text="What was emptied, by kind.")


class ErasableRecipientViewSet(RecipientViewSet):
    """The recipients API, whose DELETE can erase: registered in config.urls in place of the plain one."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "erase",
                bool,
                description="true: erase the recipient's personal data everywhere (docs/privacy.md)",
            )
        ],
        responses={
            204: OpenApiResponse(description="Deleted; the send log keeps its copies of the address."),
            200: ErasureSerializer,
        },
    )
    def destroy(self, request, *args, **kwargs):
        erase = request.query_params.get("erase", "false")
        if erase not in ("true", "false"):
            raise Invalid("Nothing was deleted.", problems=[Problem("erase", "Must be true or false.")])
        if erase == "false":
            return super().destroy(request, *args, **kwargs)
        erasure = recipient_erase(recipient=self.get_object(), actor=request.user.token)
        return Response(
            {"recipient": erasure.recipient_id, "erased": erasure.counts()}, status=status.HTTP_200_OK
        )
