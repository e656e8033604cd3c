from django.core.management.base import BaseCommand

from providers.services import provider_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every provider's credentials under the first of HERALD_PROVIDER_KEYS. Put the new key "
        "first, run this, then drop the old key."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{provider_keys_rotate()} provider(s) re-encrypted under the first key.")
