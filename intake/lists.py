"""Send to a list: a campaign triggered from a CSV or XLSX file, checked before anything is sent.

The check asks the intake's own rules (plan.trigger_check) about every row, so each problem reads as the
API would say it; confirming calls trigger_accept, so the list is one trigger like any other, and the
same file, mapping and campaign confirmed twice are still one.
"""

import hashlib
import json
import re
from dataclasses import asdict, replace
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignKind
from core.errors import HeraldError, Invalid, Problem
from mailings.models import Channel
from mailings.rendering import RenderError, render_mailing, template_data
from mailings.sms_length import sms_length
from orgs.models import Org
from recipients.models import Recipient
from sends.models import Trigger
from suppressions.selectors import suppressions_for

from .accept import trigger_accept
from .commands import RecipientSpec, TriggerCommand, sanitize_filename
from .list_files import (
    ListFile,
    ListFileError,
    is_xlsx,
    list_file_csv,
    list_file_head,
    list_file_read,
    mapping_guess,
    mapping_problems,
    recipient_specs,
)
from .models import ListUpload
from .plan import Planned, trigger_check

SOURCE = "list"
# Rows checked in one go: each chunk is one lookup of its recipients and one of their suppressions, and
# the page's progress bar moves chunk by chunk.
CHECK_CHUNK = 5_000
MAX_PROBLEMS_KEPT = 1_000
PREVIEW_ROWS = 20
PREVIEW_MESSAGES = 3
STALE_AFTER = timedelta(days=1)
_WORKING = [ListUpload.Status.CHECKING, ListUpload.Status.SENDING]


def list_upload_create(
    *, org: Org, campaign: Campaign, user, name: str, content: bytes, mapping: list[str] | None = None
) -> ListUpload:
    """Keep an uploaded list, its columns mapped as guessed from its headers (or as given), to be checked.

    Invalid, naming `file` or `mapping`, when the file cannot be a list; nothing is kept then.
    """
    if not content:
        raise _invalid(Problem("file", "The file is empty."))
    try:
        headers, rows = list_file_head(content=content)
    except ListFileError as exc:
        raise _invalid(Problem("file", str(exc))) from None
    problem = rows is not None and _size_problem(rows)
    if problem:
        raise _invalid(problem)
    mapping = mapping_guess(headers) if mapping is None else mapping
    problems = mapping_problems(headers, mapping)
    if problems:
        raise _invalid(*problems)
    list_uploads_purge_stale()
    file_sha256 = hashlib.sha256(content).hexdigest()
    return ListUpload.objects.create(
        org=org, campaign=campaign, user=user if getattr(user, "pk", None) else None,
        filename=sanitize_filename(name), content=content, file_sha256=file_sha256,
        digest=_digest(campaign, file_sha256, mapping), headers=headers, mapping=mapping,
        # An XLSX that declares no size is counted as it is read, by a worker.
        total=settings.HERALD_MAX_LIST_ROWS if rows is None else rows,
    )  # fmt: skip


def list_upload_map(*, upload: ListUpload, mapping: list[str]) -> ListUpload:
    """The columns mapped anew, as staff edited them: to be checked again."""
    problems = mapping_problems(upload.headers, mapping)
    if problems:
        raise _invalid(*problems)
    if upload.status != ListUpload.Status.CHECKED:
        raise _invalid(Problem("mapping", "This list is being checked or was sent; upload it again."))
    upload.mapping, upload.digest = mapping, _digest(upload.campaign, upload.file_sha256, mapping)
    upload.status, upload.done, upload.problems, upload.preview = ListUpload.Status.CHECKING, 0, [], {}
    upload.save()
    return upload


def list_upload_check(*, upload_id: int) -> ListUpload:
    """Every row checked by the intake's rules, nothing stored but the findings: problems row by row, in
    the API's words; suppressed recipients; the first rows and messages as they will go."""
    upload = ListUpload.objects.select_related("org", "campaign").get(pk=upload_id)
    org, campaign = upload.org, upload.campaign
    content = bytes(upload.content)
    try:
        table = _read(content)
    except Invalid as exc:  # an XLSX whose header was fine, its rows not
        upload.status, upload.problem_count, upload.blocking = ListUpload.Status.CHECKED, 1, True
        upload.problems = [_shown(None, exc.problems[0])]
        return _checked(upload)
    if is_xlsx(content):
        # Read once: the send, and a check with other columns, read it as CSV, twenty times faster.
        upload.content = list_file_csv(table)
    upload.total = len(table.rows)
    # The progress bar's length; updated_at says the check is alive (list_uploads_purge_stale).
    ListUpload.objects.filter(pk=upload.pk).update(total=upload.total, updated_at=timezone.now())
    problems: list[dict] = []
    count, blocking = 0, False
    size_problem = _size_problem(len(table.rows))
    if size_problem:
        problems.append(_shown(None, size_problem))
        count, blocking = 1, True
    specs = [] if size_problem else recipient_specs(table.rows, upload.mapping)
    if campaign.status == Campaign.Status.PAUSED:
        problems.append(
            _shown(None, Problem("campaign", "The campaign is paused; resume it to trigger sends."))
        )
        count, blocking = count + 1, True
    seen_batch: set[Problem] = set()
    messages: list[dict] = []
    for start in range(0, len(specs), CHECK_CHUNK):
        chunk = specs[start : start + CHECK_CHUNK]
        planned, found = trigger_check(org, campaign, _command(chunk, upload), max_batch=len(chunk))
        bad_rows = set()
        for problem in found:
            index = _row_index(problem)
            if index is None:
                if problem in seen_batch:
                    continue  # the same for every chunk: "the campaign has no SMS mailing"
                seen_batch.add(problem)
            else:
                bad_rows.add(index)
            count, blocking = count + 1, True
            if len(problems) < MAX_PROBLEMS_KEPT:
                row = None if index is None else table.numbers[start + index]
                problems.append(_shown(row, _unindexed(problem), upload))
        for index, channel, address in _suppressed(org, campaign, planned):
            count += 1
            if len(problems) < MAX_PROBLEMS_KEPT:
                message = f"'{address}' is suppressed: it will not be sent."
                field = "email" if channel == Channel.EMAIL else "phone"
                problems.append(_shown(table.numbers[start + index], Problem(field, message), upload))
        for p in planned:
            if len(messages) < PREVIEW_MESSAGES and p.index not in bad_rows:
                messages += _rendered(org, campaign, p, table.numbers[start + p.index])
        ListUpload.objects.filter(pk=upload.pk).update(done=start + len(chunk), updated_at=timezone.now())
    problems.sort(key=lambda p: p["row"] or 0)
    upload.status, upload.done = ListUpload.Status.CHECKED, len(specs)
    upload.problems, upload.problem_count, upload.blocking = problems, count, blocking
    upload.preview = {
        "rows": [_row(table.numbers[i], spec) for i, spec in enumerate(specs[:PREVIEW_ROWS])],
        "messages": messages[:PREVIEW_MESSAGES],
        "sent_before": _sent_before(upload),
    }
    return _checked(upload)


def _checked(upload: ListUpload) -> ListUpload:
    """Keep the findings, unless the upload was emptied while it was checked (an erasure): then not."""
    fields = ("status", "content", "total", "done", "problems", "problem_count", "blocking", "preview")
    kept = ListUpload.objects.filter(pk=upload.pk, status=ListUpload.Status.CHECKING).update(
        **{name: getattr(upload, name) for name in fields}, updated_at=timezone.now()
    )
    if not kept:
        upload.refresh_from_db()
    return upload


def list_upload_send(*, upload_id: int) -> ListUpload:
    """Confirmed: the list becomes one trigger through trigger_accept; the file itself is then forgotten.

    A second confirm of the same upload finds it claimed and does nothing; the same file, mapping and
    campaign uploaded and confirmed again is the same Idempotency-Key, so trigger_accept answers the
    first trigger again instead of sending twice.
    """
    claimed = ListUpload.objects.filter(
        pk=upload_id, status=ListUpload.Status.CHECKED, blocking=False
    ).update(status=ListUpload.Status.SENDING, done=0, updated_at=timezone.now())
    upload = ListUpload.objects.select_related("org", "campaign").get(pk=upload_id)
    if not claimed:
        return upload
    table = _read(bytes(upload.content))
    command = _command(recipient_specs(table.rows, upload.mapping), upload)
    try:
        result = trigger_accept(
            org=upload.org, campaign=upload.campaign, command=command, idempotency_key=upload.idempotency_key,
            fingerprint=upload.digest, max_batch=settings.HERALD_MAX_LIST_ROWS,
        )  # fmt: skip
    except HeraldError as exc:
        # The world changed since the check (the campaign paused, a recipient erased): say so, keep the file.
        details = "; ".join(f"{p.field}: {p.message}" for p in exc.problems[:5])
        upload.status, upload.error = ListUpload.Status.FAILED, f"{exc.message} {details}".strip()[:500]
        upload.save(update_fields=["status", "error", "updated_at"])
        return upload
    # Sent: the trigger and its sends hold the list now, under retention and erasure; the upload keeps counts.
    upload.status, upload.trigger, upload.content = ListUpload.Status.SENT, result.trigger, b""
    upload.done, upload.preview, upload.problems = upload.total, {}, []
    upload.save(update_fields=["status", "trigger", "content", "done", "preview", "problems", "updated_at"])
    return upload


def list_uploads_purge_stale() -> int:
    """An upload never sent holds a list of people: it is not kept past a day (STALE_AFTER), unless a worker
    is at it this hour (a worker that died leaves it to go then). How many went."""
    now = timezone.now()
    working = Q(status__in=_WORKING, updated_at__gte=now - timedelta(hours=1))
    stale = ListUpload.objects.filter(created_at__lt=now - STALE_AFTER).exclude(working)
    return stale.exclude(status=ListUpload.Status.SENT).delete()[0]


def list_uploads_empty(*, org: Org) -> int:
    """Empty every upload of the org that is not sent or being sent and still holds rows (its file, first
    rows, messages and problems): what an erasure does, since a list may name the person in any spelling of
    their address. One being sent is left to its worker, which empties its file once it is sent. How many."""
    held = (
        ListUpload.objects.filter(org=org)
        .exclude(status__in=[ListUpload.Status.SENT, ListUpload.Status.SENDING])
        .exclude(content=b"", preview={}, problems=[])
    )
    return held.update(
        content=b"", preview={}, problems=[], status=ListUpload.Status.FAILED, updated_at=timezone.now(),
        error="Emptied when a recipient was erased: upload the list again.",
    )  # fmt: skip


def list_upload_fail(*, upload_id: int, error: str) -> None:
    """A check or send that broke off: failed, with why, unless it had finished."""
    ListUpload.objects.filter(pk=upload_id, status__in=_WORKING).update(
        status=ListUpload.Status.FAILED, error=error[:500]
    )


def _read(content: bytes) -> ListFile:
    if not content:
        raise _invalid(Problem("file", "The file is empty."))
    try:
        return list_file_read(content=content)
    except ListFileError as exc:
        raise _invalid(Problem("file", str(exc))) from None


def _invalid(*problems: Problem) -> Invalid:
    return Invalid(
        f"The list was not accepted: {problems[0].message} Nothing was stored.", problems=[*problems]
    )


def _digest(campaign: Campaign, file_sha256: str, mapping: list[str]) -> str:
    return hashlib.sha256(f"{campaign.pk}\n{json.dumps(mapping)}\n{file_sha256}".encode()).hexdigest()


def _size_problem(rows: int) -> Problem | None:
    limit = settings.HERALD_MAX_LIST_ROWS
    if not rows:
        return Problem("file", "The file has a header row but no rows of recipients.")
    if rows > limit:
        return Problem("file", f"The file has {rows} rows; a list has at most {limit}.")
    return None


def _command(specs: list[RecipientSpec], upload: ListUpload) -> TriggerCommand:
    # A fresh copy per use (shallow: 20 times faster than asdict): checking normalises addresses in place.
    return TriggerCommand(
        recipients=[replace(s) for s in specs], source=SOURCE, reference=upload.filename[:255]
    )


_ROW = re.compile(r"recipients\[(\d+)\]\.?")


def _row_index(problem: Problem) -> int | None:
    found = _ROW.match(problem.field)
    return int(found.group(1)) if found else None


def _unindexed(problem: Problem) -> Problem:
    """recipients[16].email → email: the row says which recipient."""
    return Problem(_ROW.sub("", problem.field, count=1) or "row", problem.message)


def _shown(row: int | None, problem: Problem, upload: ListUpload | None = None) -> dict:
    column = ""
    if upload is not None:
        field = problem.field
        targets = [field, f"context.{field[len('context.') :]}" if field.startswith("context.") else ""]
        quoted = re.match(r"'([^']+)' is a required property", problem.message)
        if field == "context" and quoted:
            targets.append(f"context.{quoted.group(1)}")
        column = next((h for h, m in zip(upload.headers, upload.mapping, strict=True) if m in targets), "")
    return {"row": row, "field": problem.field, "column": column, "message": problem.message}


def _suppressed(org: Org, campaign: Campaign, planned: list[Planned]) -> list[tuple[int, str, str]]:
    """(index, channel, address) of each send dispatch would end `suppressed`, as dispatch decides it."""
    if campaign.transactional_critical:
        return []
    wanted = {(org.pk, address) for p in planned for address in p.addresses.values()}
    found = suppressions_for(wanted=wanted)
    marketing = campaign.kind == CampaignKind.MARKETING
    return [
        (p.index, channel, address)
        for p in planned
        for channel, address in p.addresses.items()
        if (org.pk, address) in found and found[(org.pk, address)].applies_to(marketing=marketing)
    ]


def _rendered(org: Org, campaign: Campaign, planned: Planned, row: int) -> list[dict]:
    """The row's messages as dispatch will render them (dispatch/attempt.py), one per channel."""
    spec = planned.spec
    recipient = planned.recipient or Recipient(
        org=org, email=spec.email, phone=spec.phone, external_id=spec.external_id,
        first_name=spec.first_name or "", last_name=spec.last_name or "", locale=spec.locale or "",
    )  # fmt: skip
    # Each send's own link is signed when it goes; the preview shows where it will be.
    unsubscribe = "https://…/unsubscribe/…" if campaign.kind == CampaignKind.MARKETING else ""
    data = template_data(
        recipient=recipient.as_template_data(), context=planned.context, unsubscribe_url=unsubscribe
    )
    messages = []
    for channel, address in planned.addresses.items():
        message = {"row": row, "channel": channel, "to": address}
        try:
            rendered = render_mailing(
                campaign.mailing_for(channel), locale=spec.locale or recipient.locale, data=data
            )
        except RenderError as exc:
            message["error"] = str(exc)
        else:
            message.update(subject=rendered.subject, text=rendered.text, html=rendered.html)
            if channel == Channel.SMS:
                length = sms_length(rendered.text)
                message.update(segments=length.segments, encoding=length.encoding)
        messages.append(message)
    return messages


def _row(number: int, spec: RecipientSpec) -> dict:
    fields = {k: v for k, v in asdict(spec).items() if v not in (None, "") and k != "context"}
    return {"row": number, **fields, "context": spec.context or {}}


def _sent_before(upload: ListUpload) -> int | None:
    """The trigger this very file, mapping and campaign already became: confirming answers it again."""
    trigger = Trigger.objects.filter(org=upload.org, idempotency_key=upload.idempotency_key).first()
    return trigger.pk if trigger else None
