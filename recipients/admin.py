from django.contrib import admin

from .models import Recipient


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "phone", "external_id", "first_name", "last_name", "org", "created_at"]
    list_filter = ["org"]
    search_fields = ["email", "phone", "external_id", "first_name", "last_name"]
    readonly_fields = ["created_at", "updated_at"]
