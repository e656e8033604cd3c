from collections.abc import Callable

from celery import shared_task
from django.db import transaction

from .lists import list_upload_check, list_upload_fail, list_upload_send
from .models import ListUpload

# Lists of at most this many rows are checked and sent within the request; longer ones by a worker.
INLINE_ROWS = 2_000
WORK = {f.__name__: f for f in (list_upload_check, list_upload_send)}


@shared_task(ignore_result=True)
def list_upload_work(upload_id: int, work: str) -> None:
    """A long list's check or send, which would outlast a request; the page polls the upload's progress."""
    _run(WORK[work], upload_id)


def list_upload_start(*, upload: ListUpload, work: Callable[..., ListUpload]) -> bool:
    """Run `work` (check or send) now if the list is short, else in a worker after commit; True if now."""
    if upload.total <= INLINE_ROWS:
        _run(work, upload.pk)
        return True
    transaction.on_commit(lambda: list_upload_work.delay(upload.pk, work.__name__))
    return False


def _run(work: Callable[..., ListUpload], upload_id: int) -> None:
    try:
        work(upload_id=upload_id)
    except Exception:
        # Not left "checking" for ever, the page refreshing: it says so, and the list can be uploaded again
        # (sent twice it is still one trigger: its Idempotency-Key is the file's).
        list_upload_fail(upload_id=upload_id, error="Herald failed while at this list; upload it again.")
        raise
