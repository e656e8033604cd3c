"""Phone numbers to E.164, as recipients.models.normalize_phone now stores them.

Before, a number was kept with its punctuation removed ("015112345678", "4915112345678"); a trigger naming
the same number now looks it up in E.164 and would not find it. Numbers libphonenumber cannot read (no
country code and no HERALD_PHONE_REGION, or invalid) are left as they were: they could not be sent to
before either, and dropping them would lose what staff may still correct.
"""

from django.db import migrations


def to_e164(apps, schema_editor):
    from recipients.models import normalize_phone

    Recipient = apps.get_model("recipients", "Recipient")
    Suppression = apps.get_model("recipients", "Suppression")
    changed = []
    for recipient in Recipient.objects.exclude(phone=None).only("pk", "phone").iterator(chunk_size=2000):
        phone = normalize_phone(recipient.phone)
        if phone and phone != recipient.phone:
            recipient.phone = phone
            changed.append(recipient)
        if len(changed) >= 2000:
            Recipient.objects.bulk_update(changed, ["phone"])
            changed = []
    Recipient.objects.bulk_update(changed, ["phone"])
    for suppression in Suppression.objects.exclude(address__contains="@").iterator(chunk_size=2000):
        address = normalize_phone(suppression.address)
        if address and address != suppression.address:
            # Two old spellings of one number may meet in E.164: the one already there stands.
            if Suppression.objects.filter(org_id=suppression.org_id, address=address).exists():
                suppression.delete()
            else:
                suppression.address = address
                suppression.save(update_fields=["address"])


class Migration(migrations.Migration):
    dependencies = [("recipients", "0003_suppression")]

    operations = [migrations.RunPython(to_e164, migrations.RunPython.noop, elidable=True)]
