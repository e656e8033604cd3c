from django.db import migrations


def forget(apps, schema_editor):
    # A sent upload no longer keeps its first rows and messages (intake.lists.list_upload_send): nor do
    # those sent before that was so.
    ListUpload = apps.get_model("intake", "ListUpload")
    ListUpload.objects.filter(status="sent").update(preview={}, problems=[])


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_list_upload")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
