"""The vendor dialects' routes, at the paths their vendors use (see docs/dialects.md)."""

urlpatterns: list = []
