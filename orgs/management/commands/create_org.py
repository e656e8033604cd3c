import json

from django.core.management.base import BaseCommand

from orgs.services import org_create


class Command(BaseCommand):
    help = (
        "Create an organisation and its first API token (send, read and manage; the providers scope is "
        "granted by name). The token is printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help='Print {"org_id": ..., "token": "..."}.'
        )
        parser.add_argument(
            "--test", action="store_true", help="Make the token a test key: its sends never reach a provider."
        )

    def handle(self, *args, name: str, as_json: bool = False, test: bool = False, **options):
        org, secret = org_create(name=name, test=test)
        if as_json:
            self.stdout.write(json.dumps({"org_id": org.id, "token": secret, "test": test}))
        else:
            self.stdout.write(f"Created org {org.id} ({org.name}).")
            kind = "Test API token (its sends never reach a provider)" if test else "API token"
            self.stdout.write(f"{kind} (shown once, store it now): {secret}")
