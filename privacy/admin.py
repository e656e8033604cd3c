"""The recipients admin, with the action that erases: registered over recipients' own (privacy sits above)."""

from django.contrib import admin, messages

from privacy.services import recipient_erase
from recipients.admin import RecipientAdmin
from recipients.models import Recipient


@admin.action(description="Erase personal data (cannot be undone)", permissions=["delete"])
def erase(modeladmin: admin.ModelAdmin, request, queryset) -> None:
    erased = [recipient_erase(recipient=recipient, actor=request.user) for recipient in queryset]
    messages.success(
        request,
        f"Erased {len(erased)} recipient(s) and their data in {sum(e.sends for e in erased)} send(s); "
        "their addresses stay suppressed, as hashes.",
    )


class ErasableRecipientAdmin(RecipientAdmin):
    actions = [*(RecipientAdmin.actions or []), erase]


admin.site.unregister(Recipient)
admin.site.register(Recipient, ErasableRecipientAdmin)
