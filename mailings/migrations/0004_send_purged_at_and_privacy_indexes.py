from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY where PostgreSQL holds a large send log (writes go on while it builds);
    a plain CREATE INDEX on SQLite, the embedded default."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("mailings", "0003_webhooks"),
    ]

    operations = [
        # Nullable without a default: PostgreSQL adds it without rewriting the table.
        migrations.AddField(
            model_name="send",
            name="purged_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="send",
            index=models.Index(
                condition=models.Q(("purged_at__isnull", True)),
                fields=["org", "created_at"],
                name="send_retention",
            ),
        ),
    ]
