"""The vendor dialects' routes, at the paths their vendors use (see docs/dialects.md)."""

from django.urls import re_path

from . import marketing_cloud, message_central, parcellab, trigger_launch

# Vendors' clients differ on trailing slashes; each route takes the path with or without one.
urlpatterns: list = [
    # Message Central 3.x
    re_path(
        r"^v(?P<api_version>1\.0|3\.7)/mailing/trigger/?$",
        message_central.TriggerView.as_view(),
        name="message-central-trigger",
    ),
    # Trigger launch
    re_path(
        r"^api/v1\.1/campaigns/triggers/start/?$",
        trigger_launch.StartView.as_view(),
        name="trigger-launch-start",
    ),
    re_path(
        r"^trg/(?P<link_id>[0-9A-Fa-f]{1,64})/(?P<who>[^/]{1,320})/?$",
        trigger_launch.LinkView.as_view(),
        name="trigger-launch-link",
    ),
    # parcelLab
    re_path(r"^v2/trigger(?:-message)?/?$", parcellab.TriggerMessageView.as_view(), name="parcellab-trigger"),
    re_path(
        r"^v2/re-trigger-message/?$", parcellab.RetriggerMessageView.as_view(), name="parcellab-retrigger"
    ),
    # Salesforce Marketing Cloud
    re_path(r"^v2/token/?$", marketing_cloud.TokenView.as_view(), name="marketing-cloud-token"),
    re_path(
        r"^messaging/v1/messageDefinitionSends/(?P<definition>[^/]{1,200})/send/?$",
        marketing_cloud.SendView.as_view(),
        name="marketing-cloud-send",
    ),
    re_path(
        r"^messaging/v1/messageDefinitionSends/(?P<definition>[^/]{1,200})/deliveryRecords/"
        r"(?P<recipient_send_id>[^/]{1,64})/?$",
        marketing_cloud.DeliveryRecordView.as_view(),
        name="marketing-cloud-delivery-record",
    ),
]
