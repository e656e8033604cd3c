"""The vendor dialects' routes, at the paths their vendors use (see docs/dialects.md)."""

import re

from django.urls import URLPattern, re_path
from django.urls.resolvers import RegexPattern

from dialects import marketing_cloud, message_central, parcellab, trigger_launch


class CaseInsensitivePattern(RegexPattern):
    """A route matched in any case, as a vendor's server that folds case matches it.

    The captured parameters keep the case they came in (a key or a GUID is the caller's). The pattern's text
    is unchanged, so reverse() and the OpenAPI schema show the path as the vendor documents it.
    """

    def __init__(self, regex, name=None, is_endpoint=False):
        super().__init__(regex, name=name, is_endpoint=is_endpoint)
        self.regex = re.compile(regex, re.IGNORECASE)


def re_path_any_case(regex: str, view, kwargs=None, name: str | None = None) -> URLPattern:
    return URLPattern(CaseInsensitivePattern(regex, name=name, is_endpoint=True), view, kwargs, name)


# Vendors' clients differ on trailing slashes; each route takes the path with or without one, and the
# schema shows it as the vendor does ("(?:/)?" leaves no slash in the documented path, "/?" one).
# Path segments take any text: the views answer a malformed id in their vendor's shape.
# Case: Marketing Cloud's servers take a path in any case, and Salesforce's own Node client (fuel-rest)
# lowercases it, so its routes match in any case. The other vendors document lowercase paths and nothing
# says their servers fold case: their routes match as documented (docs/dialects.md, "Paths").
urlpatterns: list = [
    # Message Central 3.x
    re_path(
        r"^v1\.0/mailing/trigger(?:/)?$",
        message_central.TriggerV10View.as_view(),
        {"api_version": "1.0"},
        name="message-central-trigger-v1.0",
    ),
    re_path(
        r"^v3\.7/mailing/trigger(?:/)?$",
        message_central.TriggerV37View.as_view(),
        {"api_version": "3.7"},
        name="message-central-trigger-v3.7",
    ),
    # Trigger launch
    re_path(
        r"^api/v1\.1/campaigns/triggers/start/?$",
        trigger_launch.StartView.as_view(),
        name="trigger-launch-start",
    ),
    # `who` to the end: a slash or a line break in it (encoded, it arrives decoded) is the view's 400 in the
    # vendor's shape, not a 404 of Herald's own.
    re_path(
        r"^trg/(?P<link_id>[^/]+)/(?P<who>[\s\S]+?)(?:/)?$",
        trigger_launch.LinkView.as_view(),
        name="trigger-launch-link",
    ),
    # parcelLab: /v2/trigger is the path of the vendor's own curl example.
    re_path(r"^v2/trigger-message(?:/)?$", parcellab.TriggerMessageView.as_view(), name="parcellab-trigger"),
    re_path(r"^v2/trigger(?:/)?$", parcellab.TriggerView.as_view(), name="parcellab-trigger-short"),
    re_path(
        r"^v2/re-trigger-message(?:/)?$", parcellab.RetriggerMessageView.as_view(), name="parcellab-retrigger"
    ),
    # Salesforce Marketing Cloud
    re_path_any_case(r"^v2/token(?:/)?$", marketing_cloud.TokenView.as_view(), name="marketing-cloud-token"),
    re_path_any_case(
        r"^messaging/v1/messageDefinitionSends/(?P<definition>[^/]+)/send(?:/)?$",
        marketing_cloud.SendView.as_view(),
        name="marketing-cloud-send",
    ),
    re_path_any_case(
        r"^messaging/v1/messageDefinitionSends/(?P<definition>[^/]+)/deliveryRecords/"
        r"(?P<recipient_send_id>[^/]+)(?:/)?$",
        marketing_cloud.DeliveryRecordView.as_view(),
        name="marketing-cloud-delivery-record",
    ),
]
