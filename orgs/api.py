from rest_framework import viewsets

from .models import Org


class OrgScopedViewSet(viewsets.ModelViewSet):
    """A viewset over one org's objects: another org's object is simply not there (404)."""

    required_scopes = {"read": "read", "write": "manage"}
    model = None

    @property
    def org(self) -> Org:
        return self.request.user.org

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator has no org
            return self.model.objects.none()
        return self.model.objects.filter(org=self.org)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "org": self.org if self.request else None}

    def perform_create(self, serializer):
        serializer.save(org=self.org)
