"""What follows a model that moves to another app: its content type and the audit log's name for it.

A migration's RunPython, so it works on the historical models and runs once per database. Admin history and
permissions hang off the content type; audit entries name the model as ``app.model`` and are filtered by it.
"""

from django.db import migrations


def models_moved(new_app, moved):
    """``moved`` is ``(old_app, model_name)`` pairs now living in ``new_app``."""

    def follow(apps, schema_editor):
        _rename(apps, [(old, new_app, model) for old, model in moved])

    def go_back(apps, schema_editor):
        _rename(apps, [(new_app, old, model) for old, model in moved])

    return migrations.RunPython(follow, go_back)


def _rename(apps, renames):
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditEntry = apps.get_model("orgs", "AuditEntry")
    for from_app, to_app, model in renames:
        if not ContentType.objects.filter(app_label=to_app, model=model).exists():
            ContentType.objects.filter(app_label=from_app, model=model).update(app_label=to_app)
        AuditEntry.objects.filter(object_type=f"{from_app}.{model}").update(object_type=f"{to_app}.{model}")
