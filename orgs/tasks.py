from celery import shared_task

from orgs.services import idempotent_requests_purge


@shared_task(ignore_result=True)
def purge_idempotent_requests() -> int:
    return idempotent_requests_purge()
