import hashlib

from django.db import migrations, models

from recipients.models import normalize_address


# Frozen copy of suppressions.models.address_hash (which this app must not import): a stored format.
def address_hash(org_id, address):
    return hashlib.sha256(f"{org_id}:{normalize_address(address)}".encode()).hexdigest()


def hash_addresses(apps, schema_editor):
    Suppression = apps.get_model("recipients", "Suppression")
    batch = []
    for suppression in Suppression.objects.only("pk", "org_id", "address").iterator(chunk_size=2000):
        suppression.address_hash = address_hash(suppression.org_id, suppression.address)
        batch.append(suppression)
        if len(batch) == 2000:
            Suppression.objects.bulk_update(batch, ["address_hash"])
            batch = []
    Suppression.objects.bulk_update(batch, ["address_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("recipients", "0004_phones_e164"),
    ]

    operations = [
        migrations.AddField(
            model_name="suppression",
            name="address_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(hash_addresses, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="suppression", name="suppression_address_per_org"),
        migrations.AddConstraint(
            model_name="suppression",
            constraint=models.UniqueConstraint(
                fields=("org", "address_hash"), name="suppression_address_hash_per_org"
            ),
        ),
        migrations.AddField(
            model_name="suppression",
            name="scope",
            field=models.CharField(
                choices=[("all", "All mail"), ("marketing", "Marketing mail only")],
                default="all",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="suppression",
            name="address",
            field=models.CharField(
                blank=True,
                help_text="An email address (lower case) or a phone number; empty once erased (the hash remains).",
                max_length=320,
            ),
        ),
        migrations.AlterField(
            model_name="suppression",
            name="reason",
            field=models.CharField(
                choices=[
                    ("bounced", "Bounced"),
                    ("complained", "Complained"),
                    ("unsubscribed", "Unsubscribed"),
                    ("manual", "Manual"),
                    ("erased", "Erased"),
                ],
                max_length=16,
            ),
        ),
    ]
