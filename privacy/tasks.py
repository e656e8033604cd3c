from celery import shared_task

from privacy.services import sends_purge_expired


@shared_task(ignore_result=True)
def purge_expired_sends() -> int:
    return sends_purge_expired()
