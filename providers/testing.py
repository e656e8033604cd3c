"""A test message through one provider, from the admin. How to send through a provider is dispatch's
business (dispatch/accounts.py), on the floor above: it registers the sender here when it loads."""

from collections.abc import Callable
from typing import Any

from orgs.models import AuditEntry
from orgs.services import audit_record

from .models import Provider

_sender: Callable[[Provider, str], str] | None = None


def test_sender_register(sender: Callable[[Provider, str], str]) -> None:
    global _sender
    _sender = sender


def provider_test(*, provider: Provider, to: str, actor: Any) -> str:
    """Send a test to `to` through `provider`: the provider's message id. Raises what the provider said."""
    if _sender is None:
        raise RuntimeError("No sender registered: the dispatch app is not installed.")
    message_id = _sender(provider, to)
    audit_record(
        actor=actor, action=AuditEntry.Action.PROVIDER_TESTED, obj=provider,
        summary=f"{provider.name}: a test to {to}, {message_id}",
    )  # fmt: skip
    return message_id
