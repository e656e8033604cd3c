"""recipient_update_fields, whoever calls it (the trigger-launch link today): names one line, locales tags."""

import pytest

from core.errors import Invalid
from recipients.services import recipient_update_fields
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fields, field",
    [({"first_name": "Ada\r\nBcc: x@y.z"}, "first_name"), ({"last_name": "L\x00"}, "last_name"),
     ({"locale": "../../etc/passwd"}, "locale")],
)  # fmt: skip
def test_line_breaks_and_bad_locales_are_refused_and_nothing_is_written(org, fields, field):
    recipient = RecipientFactory(org=org, first_name="Ada", last_name="L", locale="en")
    with pytest.raises(Invalid) as refused:
        recipient_update_fields(recipient=recipient, fields={**fields, "tier": "gold"})
    assert [p.field for p in refused.value.problems] == [field]
    recipient.refresh_from_db()
    assert (recipient.first_name, recipient.last_name, recipient.locale) == ("Ada", "L", "en")
    assert "tier" not in recipient.attributes


def test_good_fields_are_written(org):
    recipient = RecipientFactory(org=org)
    updated = recipient_update_fields(recipient=recipient, fields={"first_name": "Grace", "locale": "de-AT"})
    assert (updated.first_name, updated.locale) == ("Grace", "de-AT")
