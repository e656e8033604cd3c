"""An org's providers: created, changed, reordered and deleted by the admin and the API alike, audited, and
their credentials re-encrypted when a key is rotated. No answer, page, log line or audit entry ever
carries a credential: only the names of those that are set."""

from secrets import token_urlsafe
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.crypto import constant_time_compare

from core.errors import Invalid, Problem
from core.inputs import name_problem
from orgs.models import AuditEntry, Org
from orgs.services import audit_record
from outbound_webhooks.http import url_problem

from . import secrets
from .kinds import KINDS
from .models import Provider, tracking_secret_hash

Action = AuditEntry.Action
MAX_VALUE = 4096
EDITABLE = ("name", "options", "position", "enabled", "max_in_flight", "per_second")


def provider_problems(
    *, kind: str, channel: str, options: Any, credentials: Any, credentials_required: bool = True
) -> list[Problem]:
    """What the API and the admin both refuse in a provider: the fields are the API's names."""
    spec = KINDS.get(kind)
    if spec is None:
        return [Problem("kind", f"'{kind}' is not a provider kind: one of {', '.join(KINDS)}.")]
    problems = []
    if channel != spec.channel:
        problems.append(Problem("channel", f"A {spec.label} provider sends {spec.channel}, not {channel}."))
    if not isinstance(options, dict):
        problems.append(Problem("options", "Must be an object."))
        options = {}
    for name, value in options.items():
        field = f"options.{name}"
        if name not in spec.options:
            allowed = ", ".join(spec.options) or "none"
            problems.append(Problem(field, f"Not an option of {spec.label} (its options: {allowed})."))
        elif isinstance(value, bool) != name.startswith("use_") or not isinstance(value, str | int | bool):
            kind_of = "true or false" if name.startswith("use_") else "text or a number"
            problems.append(Problem(field, f"Must be {kind_of}."))
        elif problem := _option_problem(name, value, spec):
            problems.append(Problem(field, problem))
    if credentials is None and not credentials_required:
        return problems
    if not isinstance(credentials, dict):
        return [*problems, Problem("credentials", f"Must be an object with {', '.join(spec.secrets)}.")]
    for name in spec.secrets:
        value = credentials.get(name)
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"credentials.{name}", f"{spec.label} needs it, as text."))
        elif problem := _text_problem(value):
            problems.append(Problem(f"credentials.{name}", problem))
    for name in spec.optional_secrets:
        value = credentials.get(name)
        if name in credentials and (not isinstance(value, str) or not value):
            problems.append(Problem(f"credentials.{name}", "Must be text, when given."))
        elif name in credentials and (problem := _text_problem(value)):
            problems.append(Problem(f"credentials.{name}", problem))
    for name in sorted(set(credentials) - set(spec.secrets) - set(spec.optional_secrets)):
        problems.append(Problem(f"credentials.{name}", f"Not a credential of {spec.label}."))
    return problems


def _option_problem(name: str, value, spec) -> str | None:
    if isinstance(value, str) and (problem := _text_problem(value)):
        return problem
    return _address_problem(name, value) if name in spec.urls else None


def _text_problem(value: str) -> str | None:
    if len(value) > MAX_VALUE:
        return f"At most {MAX_VALUE} characters."
    return name_problem(value)


def _address_problem(name: str, value) -> str | None:
    # An org's provider must not point Herald's workers at its own network (SSRF): the same rule as
    # outbound webhooks, lifted for tests and internal relays by HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS.
    url = str(value) if name != "host" else f"http://{value}/"
    problem = url_problem(url, allow_private=settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS)
    if problem:
        return problem.replace("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS")
    return None


def _check(**fields) -> None:
    problems = provider_problems(**fields)
    if problems:
        raise Invalid(f"The provider was not saved: {len(problems)} problem(s).", problems=problems)


def _summary(provider: Provider, changed: list[str]) -> str:
    what = f"{provider.name} ({provider.kind}, {provider.channel})"
    return f"{what}: {', '.join(changed)}" if changed else what


def provider_create(
    *, org: Org, actor: Any, kind: str, name: str, credentials: dict, channel: str | None = None,
    options: dict | None = None, position: int | None = None, enabled: bool = True, max_in_flight: int = 0,
    per_second: int = 0,
) -> Provider:  # fmt: skip
    channel = channel or (KINDS[kind].channel if kind in KINDS else "")
    options = {} if options is None else options
    _check(kind=kind, channel=channel, options=options, credentials=credentials)
    with transaction.atomic():
        if position is None:
            last = org.providers.filter(channel=channel).order_by("-position").first()
            position = last.position + 1 if last else 0
        provider = Provider(
            org=org,
            kind=kind,
            channel=channel,
            name=name,
            options=options,
            position=position,
            enabled=enabled,
        )
        provider.set_credentials(credentials)
        secret = _tracking_secret_set(provider)
        provider.save()
        audit_record(
            actor=actor, action=Action.PROVIDER_CREATED, obj=provider, summary=_summary(provider, [])
        )
    provider.tracking_secret = secret  # on this instance only: the one time it is shown
    return provider


def provider_tracking_secret_new(*, provider: Provider, actor: Any) -> str:
    """A new secret for the account's tracking webhooks, shown this once; the old one stops working."""
    if not provider.spec.tracking:
        raise Invalid(
            "The provider posts no tracking webhooks to Herald.",
            problems=[Problem("kind", f"{provider.spec.label} has no tracking webhook secret.")],
        )
    secret = _tracking_secret_set(provider)
    with transaction.atomic():
        provider.save(update_fields=["tracking_secret_hash", "updated_at"])
        audit_record(
            actor=actor, action=Action.PROVIDER_CHANGED, obj=provider,
            summary=_summary(provider, ["tracking webhook secret replaced"]),
        )  # fmt: skip
    provider.tracking_secret = secret
    return secret


def tracking_secret_matches(provider: Provider, presented: str | None) -> bool:
    """Whether a webhook's basic auth (`user:pass`) is the account's tracking secret."""
    if not presented or not provider.tracking_secret_hash:
        return False
    return constant_time_compare(tracking_secret_hash(presented), provider.tracking_secret_hash)


def _tracking_secret_set(provider: Provider) -> str | None:
    if not provider.spec.tracking:
        return None
    secret = f"herald:{token_urlsafe(32)}"
    provider.tracking_secret_hash = tracking_secret_hash(secret)
    return secret


def provider_update(
    *, provider: Provider, actor: Any, credentials: dict | None = None, **changes
) -> Provider:
    """Change what is given; credentials, when given, replace the stored ones whole."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"provider_update() cannot change {', '.join(sorted(unknown))}")
    options = changes.get("options", provider.options)
    _check(
        kind=provider.kind, channel=provider.channel, options=options, credentials=credentials,
        credentials_required=False,
    )  # fmt: skip
    changed = [name for name, value in changes.items() if getattr(provider, name) != value]
    for name, value in changes.items():
        setattr(provider, name, value)
    if credentials is not None:
        provider.set_credentials(credentials)
        changed.append("credentials replaced")
    with transaction.atomic():
        provider.save()
        audit_record(
            actor=actor, action=Action.PROVIDER_CHANGED, obj=provider, summary=_summary(provider, changed)
        )
    return provider


def provider_delete(*, provider: Provider, actor: Any) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action=Action.PROVIDER_DELETED, obj=provider, summary=_summary(provider, [])
        )
        provider.delete()


def providers_reorder(*, org: Org, channel: str, ids: list[int], actor: Any) -> list[Provider]:
    """The org's providers of `channel` in the order of `ids`, which must name each of them once."""
    providers = {p.pk: p for p in org.providers.filter(channel=channel)}
    if sorted(ids) != sorted(providers):
        raise Invalid(
            "The order was not saved.",
            problems=[
                Problem("order", f"Name each of the org's {channel} providers once: {sorted(providers)}.")
            ],
        )
    with transaction.atomic():
        for position, pk in enumerate(ids):
            if providers[pk].position != position:
                provider_update(provider=providers[pk], actor=actor, position=position)
    return [providers[pk] for pk in ids]


def provider_keys_rotate() -> int:
    """Re-encrypt every provider's credentials under the first of HERALD_PROVIDER_KEYS; how many."""
    rotated = 0
    for provider in Provider.objects.only("pk", "credentials_encrypted").iterator():
        token = secrets.rotate(provider.credentials_encrypted)
        if token != provider.credentials_encrypted:
            Provider.objects.filter(pk=provider.pk).update(credentials_encrypted=token)
            rotated += 1
    return rotated
