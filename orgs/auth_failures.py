"""Failed authentications counted per client address, for every API (native and dialects alike)."""

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


class AuthFailures:
    """Failed authentications per client address: after a burst, that address is answered 429 for the rest
    of the minute, good token or not, so guessing tokens costs a minute per HERALD_AUTH_FAILURES_PER_MINUTE
    tries. Counted as the per-org limits are: an atomic INCR in the shared cache, failing open without it.
    """

    @staticmethod
    def _key(request, now: float) -> str:
        # REMOTE_ADDR: the one address a client cannot choose (behind a proxy, the proxy sets it; see docs).
        return f"herald:authfail:{request.META.get('REMOTE_ADDR', '')}:{int(now // 60)}"

    @classmethod
    def wait(cls, request) -> float | None:
        """Seconds until this address may try again, or None while it is under the limit."""
        limit = settings.HERALD_AUTH_FAILURES_PER_MINUTE
        if not limit:
            return None
        now = time.time()
        try:
            count = cache.get(cls._key(request, now)) or 0
        except Exception:
            logger.warning("authentication failures not checked: the cache is unavailable", exc_info=True)
            return None
        return 60 - now % 60 if count >= limit else None

    @classmethod
    def record(cls, request) -> None:
        if not settings.HERALD_AUTH_FAILURES_PER_MINUTE:
            return
        key = cls._key(request, time.time())
        try:
            cache.add(key, 0, timeout=120)
            cache.incr(key)
        except ValueError:  # expired between the two calls: this failure starts the next window
            cache.add(key, 1, timeout=120)
        except Exception:
            logger.warning("authentication failure not counted: the cache is unavailable", exc_info=True)
