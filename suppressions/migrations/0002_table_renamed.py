# The tables take this app's name: a rename, instant on PostgreSQL and SQLite. Content types and audit
# entries follow their models (orgs/moves.py).
from django.db import migrations

from orgs.moves import models_moved

MOVED = (("recipients", "suppression"),)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orgs", "0006_apitoken_test"),
        ("suppressions", "0001_initial"),
        ("recipients", "0006_suppression_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="suppression", table=None),
        models_moved("suppressions", MOVED),
    ]
