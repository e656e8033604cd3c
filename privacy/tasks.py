from celery import shared_task

from intake.lists import list_uploads_purge_stale
from privacy.services import sends_purge_expired


@shared_task(ignore_result=True)
def purge_expired_sends() -> int:
    list_uploads_purge_stale()
    return sends_purge_expired()
