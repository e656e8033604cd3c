from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "intake"

    def ready(self) -> None:
        from campaigns.admin import campaign_view_register

        from . import invitations  # noqa: F401  (registers its invitation sender with orgs.members)
        from .list_admin import send_to_list_urls

        # The campaign's page offers "Send to a list…"; the view lives here, above campaigns, because
        # confirming it calls trigger_accept.
        campaign_view_register(send_to_list_urls)
